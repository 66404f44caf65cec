"""Standalone / demo project settings.

Embedded default (no env): SQLite file + Celery eager mode, so `make demo` runs
anywhere. Real mode: DATABASE_URL (PostgreSQL) and REDIS_URL (broker + results).
A host LMS that installs the apps keeps its own settings and only adds the
EDUPLATFORM_* names it wants to change (see eduplatform/core/conf.py).
"""

from __future__ import annotations

import os
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured
from django.core.management.utils import get_random_secret_key
from kombu import Queue

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("EDUPLATFORM_VAR_DIR", BASE_DIR / "var"))
VAR_DIR.mkdir(parents=True, exist_ok=True)

# DEBUG is off unless asked for. There is no fallback secret key: a fixed key in the
# source would let anyone forge sessions and signed LTI forms. DJANGO_SECRET_KEY, or
# DJANGO_SECRET_KEY_FILE (a private file holding it; `make demo` creates var/secret_key).
DEBUG = os.environ.get("DJANGO_DEBUG", "0") == "1"
SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "").strip()
if not SECRET_KEY and os.environ.get("DJANGO_SECRET_KEY_FILE"):
    try:
        SECRET_KEY = Path(os.environ["DJANGO_SECRET_KEY_FILE"]).read_text().strip()
    except OSError as exc:
        raise ImproperlyConfigured(
            f"DJANGO_SECRET_KEY_FILE={os.environ['DJANGO_SECRET_KEY_FILE']!r} cannot be read ({exc.strerror})."
        ) from exc
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured(
            "DJANGO_SECRET_KEY is not set. Set it (or DJANGO_SECRET_KEY_FILE) to a long random value, "
            "e.g. `python -c 'import secrets; print(secrets.token_urlsafe(50))'`; for a local trial run "
            "`make demo` / `make serve`, which create var/secret_key."
        )
    SECRET_KEY = get_random_secret_key()  # DEBUG only: a new random key per process, never a fixed one
ALLOWED_HOSTS = os.environ.get("DJANGO_ALLOWED_HOSTS", "localhost,127.0.0.1,testserver").split(",")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",  # Swagger UI / Redoc assets served from here, never from a CDN
    "eduplatform.core",
    "grading",
    "recommendations",
    "lti_tool",
    "eduplatform.lti",
    "eduplatform.workspace",
    "eduplatform.demo",
]

MIDDLEWARE = [
    "eduplatform.core.middleware.RequestIdMiddleware",
    "django.middleware.security.SecurityMiddleware",
    # static files (the workspace's CSS/JS, admin, Swagger UI) served by the app itself, also with DEBUG off
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "eduplatform.lti.middleware.ContentSecurityPolicyMiddleware",
    "eduplatform.lti.middleware.LtiFrameCookiesMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "eduplatform.urls"
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ]
        },
    }
]
WSGI_APPLICATION = "eduplatform.wsgi.application"

# PostgreSQL connections: by default one per request, closed at its end, so the number open
# is bounded by what runs at once (gunicorn workers x threads + Celery pool processes), never
# by how many threads a server once started. DJANGO_CONN_MAX_AGE=60 keeps them between
# requests (one per gunicorn worker thread); health checks drop a dead one before use.
DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL", f"sqlite:///{VAR_DIR / 'eduplatform.sqlite3'}"),
        conn_max_age=int(os.environ.get("DJANGO_CONN_MAX_AGE", "0")),
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"].endswith("sqlite3"):
    # Several processes (runserver + demo) share one file; wait instead of failing.
    DATABASES["default"].setdefault("OPTIONS", {})["timeout"] = 20
    DATABASES["default"]["CONN_MAX_AGE"] = 0
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Password logins (admin, workspace, API token) stop after repeated failures per client
# address and per username (eduplatform/core/auth.py; counts live in the shared cache).
AUTHENTICATION_BACKENDS = ["eduplatform.core.auth.LoginLimitedModelBackend"]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
]
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"
# Uploads are personal data: stored outside any web root and never served by a
# public URL. Files are read back only through permission-checked views.
MEDIA_ROOT = VAR_DIR / "private-media"
MEDIA_URL = "/_private-media-never-served/"  # no URL route serves MEDIA_ROOT
FILE_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
# Form fields other than files (multipart text, urlencoded bodies); files have their own limits
# (EDUPLATFORM_MAX_IMAGE_BYTES / _AUDIO_BYTES) and JSON bodies EDUPLATFORM_MAX_JSON_BYTES.
DATA_UPLOAD_MAX_MEMORY_SIZE = 2 * 1024 * 1024
EDUPLATFORM_MAX_JSON_BYTES = int(os.environ.get("EDUPLATFORM_MAX_JSON_BYTES", 1024 * 1024))

# --- Who is asking: proxies, HTTPS, cookies --------------------------------------------
# Number of reverse proxies of ours in front of the app (nginx, a load balancer). 0: the client
# is the TCP peer and X-Forwarded-For is ignored, so a forged header cannot dodge throttles.
EDUPLATFORM_NUM_PROXIES = int(os.environ.get("EDUPLATFORM_NUM_PROXIES", "0"))
# DJANGO_HTTPS=1 is the production switch: HSTS, Secure cookies, redirect to https, and (behind
# proxies) the proxy's X-Forwarded-Proto is trusted for request.is_secure().
HTTPS = os.environ.get("DJANGO_HTTPS", "0") == "1"
if HTTPS:
    SECURE_SSL_REDIRECT = True
    SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
    SECURE_HSTS_SECONDS = int(os.environ.get("DJANGO_HSTS_SECONDS", 31536000))
    SECURE_HSTS_INCLUDE_SUBDOMAINS = os.environ.get("DJANGO_HSTS_INCLUDE_SUBDOMAINS", "1") == "1"
    SECURE_HSTS_PRELOAD = os.environ.get("DJANGO_HSTS_PRELOAD", "1") == "1"
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    if EDUPLATFORM_NUM_PROXIES > 0:
        SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
# SameSite stays Lax for password logins; sessions started by an LTI launch get SameSite=None
# (they live in the LMS iframe) from eduplatform.lti.middleware.LtiFrameCookiesMiddleware.
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
CSRF_TRUSTED_ORIGINS = [o for o in os.environ.get("DJANGO_CSRF_TRUSTED_ORIGINS", "").split(",") if o]

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PARSER_CLASSES": [
        "eduplatform.rest.parsers.BoundedJSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.PageNumberPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_THROTTLE_CLASSES": [
        "rest_framework.throttling.AnonRateThrottle",
        "rest_framework.throttling.UserRateThrottle",
    ],
    "DEFAULT_THROTTLE_RATES": {
        "anon": os.environ.get("EDUPLATFORM_THROTTLE_ANON", "60/min"),
        "user": os.environ.get("EDUPLATFORM_THROTTLE_USER", "6000/min"),
        # POST /api/v1/auth/token/, per client address (on top of the login failure limit)
        "auth": os.environ.get("EDUPLATFORM_THROTTLE_AUTH", "10/min"),
    },
    # The same trusted-proxy rule as eduplatform.core.middleware.client_ip (DRF's default,
    # None, would take the client-supplied X-Forwarded-For as the address).
    "NUM_PROXIES": EDUPLATFORM_NUM_PROXIES,
    "EXCEPTION_HANDLER": "eduplatform.core.errors.exception_handler",
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "eduplatform API",
    "DESCRIPTION": "Courses, submissions, AI grades with human review, learning events and paths.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "ENUM_NAME_OVERRIDES": {},
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "eduplatform.rest.schema.postprocess_error_responses",
    ],
}

# --- Cache (and what lives in it) ----------------------------------------------------------
# One cache shared by every web process when REDIS_URL is set: LTI OIDC state and nonces
# (a launch may land on another process than its login), throttle and login-failure
# counts (so limits do not multiply by the number of processes) and session reads.
REDIS_URL = os.environ.get("REDIS_URL", "")
CACHE_URL = os.environ.get("EDUPLATFORM_CACHE_URL", REDIS_URL)
if CACHE_URL:
    CACHES = {
        "default": {
            "BACKEND": "eduplatform.core.cache.ResilientRedisCache",  # a Redis outage is not a 500 (see there)
            "LOCATION": CACHE_URL,
            "KEY_PREFIX": os.environ.get("EDUPLATFORM_CACHE_PREFIX", "eduplatform"),
            "TIMEOUT": 300,
        }
    }
    SESSION_ENGINE = "django.contrib.sessions.backends.cached_db"
else:
    # Embedded default (one process): local memory.
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# --- Celery ---------------------------------------------------------------------
# Queues: `gpu` carries grading and model work (`celery -A eduplatform worker -Q gpu -c 1`
# per GPU); `default` carries the periodic sweeper and bookkeeping (`-Q default`, on any
# node), so a backlog of grading wake-ups never delays the sweeper that takes rows back
# from dead workers. The database row is the truth; a message is only a wake-up.
CELERY_BROKER_URL = REDIS_URL or "memory://"
CELERY_RESULT_BACKEND = None
CELERY_TASK_ALWAYS_EAGER = not REDIS_URL  # embedded default: run tasks inline
# Embedded mode: a request that enqueues grading (an upload) answers at once; the task runs on a
# background thread of the same process (see EDUPLATFORM_EMBEDDED_TASKS in eduplatform/core/conf.py).
EDUPLATFORM_EMBEDDED_TASKS = os.environ.get("EDUPLATFORM_EMBEDDED_TASKS", "thread")
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_DEFAULT_QUEUE = "default"
CELERY_TASK_QUEUES = (Queue("default"), Queue("gpu"))
CELERY_TASK_ROUTES = {
    # Exact names are matched before the patterns: periodic bookkeeping stays off `gpu`.
    "grading.sweep_stuck": {"queue": "default"},
    "grading.retrain_stale": {"queue": "default"},
    "grading.*": {"queue": "gpu"},
    "recommendations.train_*": {"queue": "gpu"},
    "recommendations.embed_*": {"queue": "gpu"},
    "eduplatform.*": {"queue": "default"},
    "recommendations.*": {"queue": "default"},
}
# A broker outage must not hang or fail a web request: the row is committed before the
# wake-up is sent and the sweeper re-sends it, so publishing gives up within ~2 s.
CELERY_BROKER_CONNECTION_TIMEOUT = 2
CELERY_TASK_PUBLISH_RETRY_POLICY = {"max_retries": 2, "interval_start": 0, "interval_step": 0.25, "interval_max": 0.5}
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": 3600,  # > the longest task (training, 1900 s), or it would run twice
    "socket_connect_timeout": 2,
    "socket_timeout": 10,  # a publish on a half-open connection fails instead of waiting forever
}
# Workers and beat ride out a Redis restart: they reconnect for as long as it takes.
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BROKER_CONNECTION_MAX_RETRIES = None
# Results go to PostgreSQL, not through the broker: a batch keeps running when Redis goes
# away (cancelling it would only throw the work away and cost the rows a lease).
CELERY_WORKER_CANCEL_LONG_RUNNING_TASKS_ON_CONNECTION_LOSS = False
# A pool process killed by the OOM killer is replaced by the main process; the new one
# must report ready within this many seconds (Celery's default is 4). Models load in a
# background thread (eduplatform.core.workers), so it reports at once; the margin covers
# a loaded machine.
CELERY_WORKER_PROC_ALIVE_TIMEOUT = float(os.environ.get("CELERY_WORKER_PROC_ALIVE_TIMEOUT", "30"))
# A pool process above this resident size after a task is replaced between tasks (a slow
# leak ends in a planned restart, models reloading in the background, instead of the OOM
# killer mid-batch). In KiB; one process with MiniLM, OCR and Whisper holds ~1.2-1.6 GB.
CELERY_WORKER_MAX_MEMORY_PER_CHILD = int(os.environ.get("CELERY_WORKER_MAX_MEMORY_PER_CHILD", 4 * 1024 * 1024))
SWEEP_INTERVAL_SECONDS = float(os.environ.get("EDUPLATFORM_SWEEP_INTERVAL_SECONDS", "60"))
CELERY_BEAT_SCHEDULE = {
    "sweep-stuck-submissions": {
        "task": "grading.sweep_stuck",
        "schedule": SWEEP_INTERVAL_SECONDS,
        # a sweep nobody ran before the next one is due is dropped, not piled up
        "options": {"queue": "default", "expires": SWEEP_INTERVAL_SECONDS},
    },
    "recompute-behaviour": {"task": "recommendations.recompute_behaviour", "schedule": 3600.0},
    "retrain-graders": {"task": "grading.retrain_stale", "schedule": 3600.0, "options": {"queue": "default"}},
    "train-kt-models": {"task": "recommendations.train_kt_model", "schedule": 86400.0},
}
CELERY_BEAT_SCHEDULE["lti-resend-grades"] = {"task": "eduplatform.lti_sweep_grades", "schedule": 900.0}

# Every line carries the request id (X-Request-ID); 500s are logged by django.request with
# the exception, never with the request body, names, answers or e-mail addresses.
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"request_id": {"()": "eduplatform.core.middleware.RequestIdLogFilter"}},
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain", "filters": ["request_id"]}},
    "loggers": {
        "django.request": {"handlers": ["console"], "level": "ERROR", "propagate": False},
        "django.security": {"handlers": ["console"], "level": "WARNING", "propagate": False},
        "eduplatform": {"handlers": ["console"], "level": os.environ.get("EDUPLATFORM_LOG_LEVEL", "INFO")},
        "grading": {"handlers": ["console"], "level": os.environ.get("EDUPLATFORM_LOG_LEVEL", "INFO")},
        "recommendations": {"handlers": ["console"], "level": os.environ.get("EDUPLATFORM_LOG_LEVEL", "INFO")},
    },
}

# Learned models (graders, knowledge tracing) are written here; private, never served.
EDUPLATFORM_ARTIFACT_DIR = Path(os.environ.get("EDUPLATFORM_ARTIFACT_DIR", VAR_DIR / "models"))

# Operational knobs a deployment sets from its environment (defaults and meaning in
# eduplatform/core/conf.py). The plugin itself reads only Django settings.
for _name, _cast in (
    ("GRADING_FAULT_DELAY_SECONDS", float),
    ("GRADING_LEASE_SECONDS", int),
    ("PENDING_REQUEUE_SECONDS", int),
    ("GRADING_BATCH_SIZE", int),
    ("MAX_MODEL_FAILURES", int),
    ("LEASE_LOSS_ALERT", int),
    ("MAX_LEASE_LOSSES", int),
    ("DEVICE", str),
    ("TEXT_MODEL_PATH", str),
    ("ASR_MODEL_PATH", str),
    ("ASR_BEAM_SIZE", int),
    ("IMAGE_BACKBONE_WEIGHTS", str),
    ("IMAGE_BACKBONE_ARCH", str),
    ("WARM_MODELS", str),
):
    if os.environ.get(f"EDUPLATFORM_{_name}"):
        globals()[f"EDUPLATFORM_{_name}"] = _cast(os.environ[f"EDUPLATFORM_{_name}"])

# --- the workspace pages -------------------------------------------------------------
# The standalone project's own login page (a host LMS keeps its login and sets LOGIN_URL).
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "eduplatform_workspace:home"
LOGOUT_REDIRECT_URL = "login"
# Serve static files straight from the apps (no collectstatic needed for `make demo`);
# a production deployment may run collectstatic into STATIC_ROOT as usual.
WHITENOISE_USE_FINDERS = True
Path(STATIC_ROOT).mkdir(parents=True, exist_ok=True)
