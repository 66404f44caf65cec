"""The built wheel installs into a separate, minimal host Django project, migrates, and serves the API.

The host has its own custom user model (AUTH_USER_MODEL), mounts the plugin's URLs
under its own prefixes, and imports the apps from the installed wheel, never from
this checkout. Third-party dependencies come from the test environment's
site-packages (a .pth file), so nothing is downloaded and torch is not reinstalled.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import sysconfig
import textwrap
import time
from pathlib import Path

import pytest
import requests

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[1]
PACKAGES = ["eduplatform", "grading", "recommendations", "multimodal"]

HOST_FILES = {
    "manage.py": """
        import os, sys
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "hostsite.settings")
        from django.core.management import execute_from_command_line
        execute_from_command_line(sys.argv)
    """,
    "hostsite/__init__.py": "",
    "hostsite/settings.py": """
        from pathlib import Path

        BASE_DIR = Path(__file__).resolve().parent.parent
        SECRET_KEY = "host-lms-test-key"
        DEBUG = False
        ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
        INSTALLED_APPS = [
            "django.contrib.admin", "django.contrib.auth", "django.contrib.contenttypes",
            "django.contrib.sessions", "django.contrib.messages", "django.contrib.staticfiles",
            "accounts",  # the LMS's own user model
            "rest_framework", "rest_framework.authtoken", "django_filters",
            "eduplatform.core", "grading", "recommendations", "lti_tool", "eduplatform.lti",
            "eduplatform.workspace",
        ]
        AUTH_USER_MODEL = "accounts.User"
        MIDDLEWARE = [
            "django.middleware.security.SecurityMiddleware",
            "eduplatform.lti.middleware.ContentSecurityPolicyMiddleware",
            "eduplatform.lti.middleware.LtiFrameCookiesMiddleware",
            "django.contrib.sessions.middleware.SessionMiddleware",
            "django.middleware.common.CommonMiddleware",
            "django.middleware.csrf.CsrfViewMiddleware",
            "django.contrib.auth.middleware.AuthenticationMiddleware",
            "django.contrib.messages.middleware.MessageMiddleware",
            "django.middleware.clickjacking.XFrameOptionsMiddleware",
        ]
        LOGIN_URL = "login"
        ROOT_URLCONF = "hostsite.urls"
        TEMPLATES = [{
            "BACKEND": "django.template.backends.django.DjangoTemplates", "DIRS": [], "APP_DIRS": True,
            "OPTIONS": {"context_processors": [
                "django.template.context_processors.request", "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages"]},
        }]
        DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": BASE_DIR / "host.sqlite3"}}
        DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
        USE_TZ = True
        STATIC_URL = "static/"
        REST_FRAMEWORK = {
            "DEFAULT_AUTHENTICATION_CLASSES": ["rest_framework.authentication.TokenAuthentication",
                                               "rest_framework.authentication.SessionAuthentication"],
            "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
            "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.PageNumberPagination",
            "PAGE_SIZE": 50,
            "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
            "EXCEPTION_HANDLER": "eduplatform.core.errors.exception_handler",
        }
        CELERY_TASK_ALWAYS_EAGER = True  # no broker in this host
        EDUPLATFORM_MAX_TEXT_CHARS = 5000  # a namespaced plugin setting, overridden by the host
    """,
    "hostsite/urls.py": """
        from django.contrib import admin
        from django.urls import include, path

        urlpatterns = [
            path("admin/", admin.site.urls),
            path("lms/edu/api/", include("eduplatform.rest.urls")),
            path("lms/edu/lti/", include("eduplatform.lti.urls")),
            path("lms/edu/workspace/", include("eduplatform.workspace.urls")),
            path("accounts/", include("django.contrib.auth.urls")),
        ]
    """,
    "accounts/__init__.py": "",
    "accounts/models.py": """
        from django.contrib.auth.models import AbstractUser
        from django.db import models


        class User(AbstractUser):
            staff_number = models.CharField(max_length=32, blank=True, default="")
    """,
}

SEED = """
import json
from django.contrib.auth import get_user_model
from rest_framework.authtoken.models import Token
from eduplatform.core import services
from eduplatform.core.conf import settings as edu_settings
teacher = get_user_model().objects.create_user(username="teacher", password="pw-12345678", staff_number="T-1")
course = services.course_create(code="HOST-101", title="Hosted course")
services.enrollment_create(user=teacher, course=course, role="instructor")
services.assignment_create(course=course, title="Hosted essay")
print(json.dumps({"token": Token.objects.create(user=teacher).key, "max_text": edu_settings.MAX_TEXT_CHARS}))
"""


def _run(args, *, cwd, env, timeout=300) -> str:
    proc = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False)
    assert proc.returncode == 0, f"{' '.join(map(str, args))} failed:\n{proc.stdout}\n{proc.stderr}"
    return proc.stdout


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def host(tmp_path_factory):
    """Build the wheel from this checkout, install it into a fresh venv, lay out a host project."""
    tmp = tmp_path_factory.mktemp("host-lms")
    src = tmp / "src"
    for name in PACKAGES:
        shutil.copytree(REPO / name, src / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    for name in ("pyproject.toml", "requirements.txt"):
        shutil.copy(REPO / name, src / name)
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "DJANGO_SETTINGS_MODULE")}
    _run(
        [sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", str(tmp / "dist"), str(src)],
        cwd=tmp,
        env=env,
    )
    [wheel] = (tmp / "dist").glob("eduplatform-*.whl")

    venv = tmp / "venv"
    _run([sys.executable, "-m", "venv", str(venv)], cwd=tmp, env=env)
    python = venv / "bin" / "python"
    purelib = Path(
        _run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], cwd=tmp, env=env).strip()
    )
    deps = sysconfig.get_paths()["purelib"]  # this environment's third-party packages, after the venv's own
    (purelib / "zz_host_deps.pth").write_text(f"import site; site.addsitedir({deps!r})\n")
    _run([str(python), "-m", "pip", "install", "--no-deps", "--no-index", "-q", str(wheel)], cwd=tmp, env=env)

    project = tmp / "project"
    for rel, text in HOST_FILES.items():
        (project / rel).parent.mkdir(parents=True, exist_ok=True)
        (project / rel).write_text(textwrap.dedent(text).lstrip())
    env["DJANGO_SETTINGS_MODULE"] = "hostsite.settings"
    return {"python": str(python), "project": project, "venv": venv, "env": env, "wheel": wheel}


def test_wheel_contains_apps_migrations_and_templates(host):
    import zipfile

    names = set(zipfile.ZipFile(host["wheel"]).namelist())
    for expected in (
        "eduplatform/core/migrations/0001_initial.py",
        "grading/migrations/0001_initial.py",
        "eduplatform/lti/migrations/0001_initial.py",
        "multimodal/__init__.py",
        "eduplatform/lti/templates/eduplatform_lti/error.html",
        "eduplatform/workspace/templates/registration/login.html",
        "eduplatform/workspace/static/eduplatform_workspace/workspace.js",
        "multimodal/models/keypoint_nli.joblib",
    ):
        assert expected in names
    assert not any(n.startswith("tests/") for n in names)


def test_host_project_migrates_and_serves_the_api_and_workspace_from_the_wheel(host):
    python, project, env = host["python"], host["project"], host["env"]
    modules = "eduplatform, grading, recommendations, multimodal, eduplatform.lti"
    script = f"import json, {modules}; print(json.dumps([m.__file__ for m in ({modules})]))"
    where = json.loads(_run([python, "-c", script], cwd=project, env=env))
    assert all(Path(f).is_relative_to(host["venv"]) for f in where), where  # the wheel, not this checkout

    _run([python, "manage.py", "makemigrations", "accounts"], cwd=project, env=env)
    _run([python, "manage.py", "migrate", "--noinput"], cwd=project, env=env)
    # The plugin's migrations are complete under the host's own user model: nothing left to generate.
    _run([python, "manage.py", "makemigrations", "--check", "--dry-run"], cwd=project, env=env)
    _run([python, "manage.py", "check"], cwd=project, env=env)
    seeded = _run([python, "manage.py", "shell", "-c", SEED], cwd=project, env=env)
    seeded = json.loads(seeded.strip().splitlines()[-1])
    assert seeded["max_text"] == 5000  # EDUPLATFORM_* settings come from the host

    port = _free_port()
    server = subprocess.Popen(
        [python, "manage.py", "runserver", f"127.0.0.1:{port}", "--noreload"],
        cwd=project,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(120):
            try:
                requests.get(base + "/lms/edu/api/v1/courses/", timeout=2)
                break
            except requests.ConnectionError:
                if server.poll() is not None:
                    pytest.fail(f"runserver exited:\n{server.stdout.read()}")
                time.sleep(0.5)
        auth = {"Authorization": f"Token {seeded['token']}"}

        courses = requests.get(base + "/lms/edu/api/v1/courses/", headers=auth, timeout=10)
        assert courses.status_code == 200, courses.text
        assert [c["code"] for c in courses.json()["results"]] == ["HOST-101"]
        assignments = requests.get(base + "/lms/edu/api/v1/assignments/", headers=auth, timeout=10)
        assert [a["title"] for a in assignments.json()["results"]] == ["Hosted essay"]

        assert requests.get(base + "/lms/edu/api/v1/courses/", timeout=10).status_code == 401
        token = requests.post(
            base + "/lms/edu/api/v1/auth/token/", data={"username": "teacher", "password": "pw-12345678"}, timeout=10
        )
        assert token.json()["token"] == seeded["token"]

        jwks = requests.get(base + "/lms/edu/lti/jwks.json", timeout=10)
        assert jwks.status_code == 200 and jwks.json()["keys"][0]["kty"] == "RSA"

        # the workspace, mounted as the README says: the host's login, then the teacher's course page
        web = requests.Session()
        login = web.get(base + "/lms/edu/workspace/", timeout=10)
        assert login.status_code == 200 and "/accounts/login/" in login.url
        assert "frame-ancestors" in login.headers.get("Content-Security-Policy", "")
        done = web.post(
            login.url,
            data={
                "username": "teacher",
                "password": "pw-12345678",
                "csrfmiddlewaretoken": web.cookies["csrftoken"],
            },
            headers={"Referer": login.url},
            timeout=10,
        )
        assert done.status_code == 200 and "Hosted essay" in done.text, done.text[:500]
        assert "/static/eduplatform_workspace/workspace.css" in done.text  # its own assets, no CDN
    finally:
        server.terminate()
        server.wait(timeout=10)
