#!/usr/bin/env python
"""Standalone / demo entry point for eduplatform."""

import os
import sys


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "eduplatform.settings")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    from django.core.management import execute_from_command_line

    import eduplatform.celery  # noqa: F401  (the standalone project's Celery app)

    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
