"""gunicorn settings for production: ``gunicorn -c python:eduplatform.gunicorn_conf eduplatform.wsgi``.

Put it behind a reverse proxy that terminates TLS and buffers request bodies (nginx):
sync workers then never wait on a slow client. Each value can be changed from the
environment (``GUNICORN_*`` below) or on the command line.

Sizing: at most ``workers x threads`` requests run at once, and each holds at most one
PostgreSQL connection (``DJANGO_CONN_MAX_AGE`` 0 closes it after the request), so with
the defaults on a 4-core host (9 workers, 1 thread) the web tier holds <= 9 connections
whatever the load; Celery pool processes add one each (two while a batch renews its
lease). Keep the sum well under PostgreSQL's ``max_connections`` (100 by default).
"""

from __future__ import annotations

import os

_cores = os.cpu_count() or 1

bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")
# CPU-bound Django + upload validation (decoding a photo's header, reading audio): processes, not threads.
workers = int(os.environ.get("GUNICORN_WORKERS", min(2 * _cores + 1, 12)))
threads = max(1, min(int(os.environ.get("GUNICORN_THREADS", "1")), 4))  # bounded: threads x workers = DB connections
worker_class = "gthread" if threads > 1 else "sync"
# A request that runs longer than this is killed and its worker replaced (uploads are
# checked in the request; grading is never done in it).
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "60"))
graceful_timeout = 30
keepalive = 5
# Recycle workers now and then (jittered so they do not all restart at once): bounded memory.
max_requests = int(os.environ.get("GUNICORN_MAX_REQUESTS", "2000"))
max_requests_jitter = max_requests // 10
# Request line and header limits (gunicorn's defaults, written down): bodies are bounded by Django.
limit_request_line = 8190
limit_request_fields = 100
limit_request_field_size = 8190
# Only the local proxy may tell gunicorn the original scheme.
forwarded_allow_ips = os.environ.get("GUNICORN_FORWARDED_ALLOW_IPS", "127.0.0.1")
accesslog = os.environ.get("GUNICORN_ACCESS_LOG", "-")
errorlog = "-"
# No request query strings or bodies in the access log: they can carry personal data.
access_log_format = '%(h)s "%(m)s %(U)s" %(s)s %(B)s %(M)sms'
if os.path.isdir("/dev/shm"):
    worker_tmp_dir = "/dev/shm"  # worker heartbeats off a possibly slow disk
