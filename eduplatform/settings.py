"""Standalone / demo project settings.

Embedded default (no env): SQLite file + Celery eager mode, so `make demo` runs
anywhere. Real mode: DATABASE_URL (PostgreSQL) and REDIS_URL (broker + results).
A host LMS that installs the apps keeps its own settings and only adds the
EDUPLATFORM_* names it wants to change (see eduplatform/conf.py).
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
    SECRET_KEY = Path(os.environ["DJANGO_SECRET_KEY_FILE"]).read_text().strip()
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
    "eduplatform.core",
    "grading",
    "recommendations",
    "lti_tool",
    "eduplatform.lti",
    "eduplatform.demo",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
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

DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL", f"sqlite:///{VAR_DIR / 'eduplatform.sqlite3'}"),
        conn_max_age=60,
    )
}
if DATABASES["default"]["ENGINE"].endswith("sqlite3"):
    # Several processes (runserver + demo) share one file; wait instead of failing.
    DATABASES["default"].setdefault("OPTIONS", {})["timeout"] = 20
    DATABASES["default"]["CONN_MAX_AGE"] = 0
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

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
DATA_UPLOAD_MAX_MEMORY_SIZE = 30 * 1024 * 1024

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
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
    },
    "EXCEPTION_HANDLER": "eduplatform.core.errors.exception_handler",
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "eduplatform API",
    "DESCRIPTION": "Courses, submissions, AI grades with human review, learning events and paths.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
}

# --- Celery ---------------------------------------------------------------------
REDIS_URL = os.environ.get("REDIS_URL", "")
CELERY_BROKER_URL = REDIS_URL or "memory://"
CELERY_RESULT_BACKEND = None
CELERY_TASK_ALWAYS_EAGER = not REDIS_URL  # embedded default: run tasks inline
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_DEFAULT_QUEUE = "default"
CELERY_TASK_QUEUES = (Queue("default"), Queue("gpu"))
CELERY_TASK_ROUTES = {
    "grading.*": {"queue": "gpu"},
    "recommendations.train_*": {"queue": "gpu"},
    "recommendations.embed_*": {"queue": "gpu"},
    "eduplatform.*": {"queue": "default"},
    "recommendations.*": {"queue": "default"},
}
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600}
CELERY_BEAT_SCHEDULE = {
    "sweep-stuck-submissions": {"task": "grading.sweep_stuck", "schedule": 60.0},
    "recompute-behaviour": {"task": "recommendations.recompute_behaviour", "schedule": 3600.0},
    "retrain-graders": {"task": "grading.retrain_stale", "schedule": 3600.0},
    "train-kt-models": {"task": "recommendations.train_kt_model", "schedule": 86400.0},
}
CELERY_BEAT_SCHEDULE["lti-resend-grades"] = {"task": "eduplatform.lti_sweep_grades", "schedule": 900.0}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "loggers": {
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
