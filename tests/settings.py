"""Settings for the test suite: the standalone settings with a test-only secret key.

The production settings refuse to start without DJANGO_SECRET_KEY; tests set one
here so `pytest` runs without configuration. Never use this module to serve.
"""

import os

os.environ.setdefault("DJANGO_SECRET_KEY", "tests-only-not-a-secret-" + "x" * 32)

from eduplatform.settings import *  # noqa: E402,F403

# Tests run enqueued tasks inline (before the call returns) so they can look at the result.
EDUPLATFORM_EMBEDDED_TASKS = "inline"
