"""`manage.py benchmark_pipeline [--n 500] [--workers 1]`: the whole grading path, measured.

N text submissions are POSTed over real HTTP to a `runserver` process, stored in
PostgreSQL, woken through Redis, graded by real `celery worker` processes and written
back. Two phases: *live* (students submit while a worker grades: submissions/s and
POST-to-grade latency, bounded by how fast one client can POST) and *backlog* (N
submissions already queued; a warm worker drains them in claimed batches: the
grading path's capacity). The raw text-encoder throughput is measured in the same
run on the same texts, so backlog/encoder shows what the pipeline (claims, features,
flags, feedback, upserts) costs on top of the model.
"""

from __future__ import annotations

import csv
import json
import os
import platform
import socket
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

import numpy as np
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import connection

ROOT = Path(settings.BASE_DIR)
MOHLER = ROOT.parent / "shared" / "datasets" / "grading" / "mohler_short_answers.csv"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _texts(n: int) -> tuple[list[str], str]:
    if MOHLER.exists():
        with MOHLER.open() as fh:
            rows = [r["answer"] for r in csv.DictReader(fh) if r["answer"].strip()]
        return [rows[i % len(rows)] for i in range(n)], "Mohler answers"
    return [f"A stack is last in first out; item {i} is pushed and popped at the top." for i in range(n)], "synthetic"


class Command(BaseCommand):
    help = "Measure API -> Redis -> celery worker -> DB grading throughput and latency."

    def add_arguments(self, parser):
        parser.add_argument("--n", type=int, default=500)
        parser.add_argument("--workers", type=int, default=1, help="celery worker processes (-c)")
        parser.add_argument("--json", dest="json_out")
        parser.add_argument("--timeout", type=float, default=1800)

    def handle(self, *args, n: int, workers: int, json_out: str | None, timeout: float, **opts):
        if connection.vendor != "postgresql" or not settings.REDIS_URL:
            raise CommandError("benchmark_pipeline needs DATABASE_URL=postgres://... and REDIS_URL=redis://...")
        import redis
        import requests
        from django.contrib.auth import get_user_model
        from django.core.management import call_command
        from rest_framework.authtoken.models import Token

        from eduplatform.core import api as services
        from eduplatform.core.api import Course, Submission

        call_command("migrate", verbosity=0)
        redis.Redis.from_url(settings.REDIS_URL).flushdb()
        Course.objects.filter(code="BENCH-PIPE").delete()
        course = services.course_create(code="BENCH-PIPE", title="Pipeline benchmark")
        assignment = services.assignment_create(
            course=course,
            title="Bench",
            modalities=["text"],
            max_score=5,
            max_attempts=2 * n + 1,
            instructions="Explain what a stack is.",
            reference_answers=["A stack is a last-in first-out structure with push and pop at the top."],
        )
        user, _ = get_user_model().objects.get_or_create(username="bench-student")
        services.enrollment_create(user=user, course=course)
        token = Token.objects.get_or_create(user=user)[0].key
        texts, source = _texts(n)

        env = {**os.environ, "HF_HUB_OFFLINE": "1", "EDUPLATFORM_LOG_LEVEL": "WARNING"}
        port = _free_port()
        logs = Path(settings.VAR_DIR) / "bench-logs"
        logs.mkdir(parents=True, exist_ok=True)
        server = subprocess.Popen(
            [sys.executable, "manage.py", "runserver", f"127.0.0.1:{port}", "--noreload"],
            cwd=ROOT,
            env=env,
            stdout=open(logs / "server.log", "wb"),
            stderr=subprocess.STDOUT,
        )
        procs = [server]

        def start_worker(tag: str) -> subprocess.Popen:
            log = logs / f"worker-{tag}.log"
            proc = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "celery",
                    "-A",
                    "eduplatform",
                    "worker",
                    "-Q",
                    "gpu,default",
                    "-c",
                    str(workers),
                    "--without-gossip",
                    "--without-mingle",
                    "-n",
                    f"bench-{tag}@%h",
                    "--loglevel",
                    "INFO",
                ],
                cwd=ROOT,
                env=env,
                stdout=open(log, "wb"),
                stderr=subprocess.STDOUT,
            )
            procs.append(proc)
            self._wait(lambda: " ready." in log.read_text(errors="replace"), 300, "worker start")
            return proc

        def post_all(http, url) -> tuple[dict[int, float], float]:
            posted: dict[int, float] = {}
            t0 = time.time()
            for text in texts:
                t = time.time()
                resp = http.post(url, data={"assignment": assignment.pk, "text": text})
                if resp.status_code != 201:
                    raise CommandError(f"POST failed: {resp.status_code} {resp.text[:300]}")
                posted[resp.json()["id"]] = t
            return posted, time.time() - t0

        def wait_graded(ids) -> dict:
            self._wait(
                lambda: Submission.objects.filter(pk__in=ids, graded_at__isnull=False).count() == len(ids),
                timeout,
                "all grades",
            )
            return {
                pk: (c, g)
                for pk, c, g in Submission.objects.filter(pk__in=ids).values_list("pk", "claimed_at", "graded_at")
            }

        try:
            worker = start_worker("live")
            http = requests.Session()
            http.headers["Authorization"] = f"Token {token}"
            url = f"http://127.0.0.1:{port}/api/v1/submissions/"
            self._wait(lambda: self._up(http, url), 60, "server start")
            # one warm-up submission so the worker's first-batch costs are not in the numbers
            http.post(url, data={"assignment": assignment.pk, "text": texts[0]}).raise_for_status()
            self._wait(
                lambda: (
                    not Submission.objects.filter(assignment=assignment, status__in=["pending", "running"]).exists()
                ),
                300,
                "warm-up grade",
            )
            # 1. live: students submit while the worker grades
            posted, post_s = post_all(http, url)
            done = wait_graded(list(posted))
            worker.terminate()
            worker.wait(timeout=60)
            # 2. backlog: N submissions wait in the queue; a warm worker drains them in batches
            backlog, _ = post_all(http, url)
            start_worker("backlog")
            drained = wait_graded(list(backlog))
        finally:
            for proc in procs:
                proc.terminate()
                try:
                    proc.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    proc.kill()
        lat = np.array([done[i][1].timestamp() - posted[i] for i in posted])
        live_wall = max(g.timestamp() for _, g in done.values()) - min(posted.values())
        drain_s = max(g.timestamp() for _, g in drained.values()) - min(c.timestamp() for c, _ in drained.values())
        raw = self._raw_encoder(texts)
        result = {
            "n": n,
            "workers": workers,
            "texts": source,
            "live_submissions_per_s": round(n / live_wall, 2),
            "live_latency_p50_s": round(float(np.percentile(lat, 50)), 3),
            "live_latency_p95_s": round(float(np.percentile(lat, 95)), 3),
            "post_per_s": round(n / post_s, 2),
            "backlog_drain_per_s": round(n / drain_s, 2),
            "encoder_items_per_s": raw,
            "backlog_vs_encoder": round((n / drain_s) / raw, 3),
            "date": date.today().isoformat(),
            "machine": f"{platform.machine()} {os.cpu_count()} cores",
            "loadavg_1min": round(os.getloadavg()[0], 2),
        }
        self.stdout.write(f"{'metric':28}value\n" + "\n".join(f"{k:28}{v}" for k, v in result.items()))
        if json_out:
            Path(json_out).write_text(json.dumps(result, indent=2))

    @staticmethod
    def _raw_encoder(texts: list[str]) -> float:
        from multimodal.text import TextEncoder

        enc = TextEncoder(batch_size=32)
        enc.encode(texts[:64])
        t = time.perf_counter()
        enc.encode(texts)
        return round(len(texts) / (time.perf_counter() - t), 1)

    @staticmethod
    def _up(http, url) -> bool:
        try:
            return http.get(url, timeout=2).status_code == 200
        except Exception:
            return False

    @staticmethod
    def _wait(pred, timeout: float, what: str) -> None:
        deadline = time.time() + timeout
        while time.time() < deadline:
            if pred():
                return
            time.sleep(0.25)
        raise CommandError(f"timed out waiting for {what}")
