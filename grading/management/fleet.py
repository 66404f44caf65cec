"""Real processes on 127.0.0.1 for the integration tests and ``manage.py chaos``.

redis-server, gunicorn (the production web command), ``celery worker`` and ``celery beat``,
each started as a child in its own session with its log in a file, so a test or the
chaos run can SIGKILL a worker's pool process (as the OOM killer does), a whole worker,
or restart Redis, and always stops what it started. No Django here: callers pass the
environment (DATABASE_URL, REDIS_URL, EDUPLATFORM_*) the processes run with.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
READY_TIMEOUT = 180


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def port_open(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0


def wait_until(predicate: Callable[[], object], timeout: float, what: str, interval: float = 0.25):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise TimeoutError(f"timed out after {timeout:.0f}s waiting for {what}")


def child_pids(pid: int) -> list[int]:
    """Direct children of ``pid`` (a celery worker's pool processes), from /proc."""
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    return [int(p) for p in text.split()]


class Proc:
    """One child process (and its process group) with stdout+stderr in ``log_path``."""

    def __init__(self, cmd: list[str], env: dict[str, str], log_path: Path) -> None:
        self.cmd, self.env, self.log_path = cmd, env, log_path
        self.proc: subprocess.Popen | None = None

    def start(self) -> Proc:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                self.cmd, cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
        return self

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def log_text(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def kill(self) -> None:
        """SIGKILL the process and everything in its group, as an OOM killer or a lost machine would."""
        if self.alive():
            os.killpg(self.pid, signal.SIGKILL)
            self.proc.wait(timeout=30)

    def stop(self, timeout: float = 30) -> None:
        if self.alive():
            os.killpg(self.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.kill()


class RedisServer(Proc):
    """A throw-away redis-server on its own port: no persistence, so a restart loses every message."""

    def __init__(self, port: int, log_path: Path) -> None:
        cmd = ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
        super().__init__(cmd, dict(os.environ), log_path)
        self.port = port

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> RedisServer:
        if port_open(self.port):
            raise RuntimeError(f"port {self.port} is in use; not starting a second Redis there")
        super().start()
        wait_until(lambda: port_open(self.port) or not self.alive(), 30, f"redis-server on port {self.port}")
        if not self.alive():
            raise RuntimeError(f"redis-server did not start:\n{self.log_text()[-2000:]}")
        return self

    def stop(self, timeout: float = 30) -> None:
        super().stop(timeout)
        wait_until(lambda: not port_open(self.port), 30, f"port {self.port} to close")


class CeleryWorker(Proc):
    """``celery -A eduplatform worker`` (prefork) on the given queues."""

    def __init__(self, name: str, env: dict[str, str], log_path: Path, queues: str = "gpu", concurrency: int = 1):
        cmd = [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "eduplatform",
            "worker",
            "-Q",
            queues,
            "-c",
            str(concurrency),
            "-n",
            f"{name}@%h",
            "--without-gossip",
            "--without-mingle",
            "--loglevel",
            "INFO",
        ]
        super().__init__(cmd, env, log_path)
        self.name = name

    def wait_ready(self, timeout: float = READY_TIMEOUT) -> CeleryWorker:
        wait_until(lambda: " ready." in self.log_text() or not self.alive(), timeout, f"worker {self.name}")
        if not self.alive():
            raise RuntimeError(f"worker {self.name} exited:\n{self.log_text()[-3000:]}")
        return self

    def pool_pids(self) -> list[int]:
        return child_pids(self.pid) if self.alive() else []

    def kill_pool_process(self) -> int | None:
        """SIGKILL one pool process (not the main one), as the OOM killer does; its pid, or None."""
        pids = self.pool_pids()
        if not pids:
            return None
        try:
            os.kill(pids[0], signal.SIGKILL)
        except ProcessLookupError:
            return None
        return pids[0]


class CeleryBeat(Proc):
    def __init__(self, env: dict[str, str], log_path: Path, schedule_path: Path) -> None:
        cmd = [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "eduplatform",
            "beat",
            "--loglevel",
            "INFO",
            "-s",
            str(schedule_path),
        ]
        super().__init__(cmd, env, log_path)


class WebServer(Proc):
    """The production web command: gunicorn with ``eduplatform/gunicorn_conf.py``, on 127.0.0.1."""

    def __init__(self, port: int, env: dict[str, str], log_path: Path, workers: int = 2) -> None:
        cmd = [
            sys.executable,
            "-m",
            "gunicorn",
            "-c",
            "python:eduplatform.gunicorn_conf",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            str(workers),
            "eduplatform.wsgi",
        ]
        super().__init__(cmd, env, log_path)
        self.port = port

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _answers(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.url}/api/v1/", timeout=2):
                return True
        except urllib.error.HTTPError:
            return True  # any HTTP answer (401, 404) means it serves
        except OSError:
            return False

    def wait_ready(self, timeout: float = 60) -> WebServer:
        wait_until(lambda: self._answers() or not self.alive(), timeout, "gunicorn")
        if not self.alive():
            raise RuntimeError(f"gunicorn exited:\n{self.log_text()[-3000:]}")
        return self
