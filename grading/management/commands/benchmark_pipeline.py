"""`manage.py benchmark_pipeline [--mix text|photo|audio] [--n 500]`: the whole grading path, measured.

Submissions are POSTed over real HTTP to a `runserver` process, stored in PostgreSQL,
woken through Redis, graded by a real `celery worker` and written back. Two phases:

1. *backlog*: N submissions wait in the queue; a warm worker drains them in claimed
   batches. Drain rate = the grading path's capacity.
2. *live*: N more are POSTed at ``--rate-fraction`` (default half) of that capacity while
   the worker grades: p50/p95 POST-to-grade-written latency at a sustainable load.

The raw encoder throughput of the mix (MiniLM on the texts; OCR + page statistics on the
photos; speech recognition + fluency on the recordings) is measured in the same run on
the same inputs, so backlog/encoder says what the pipeline costs on top of the model.
The worker logs the seconds it spent per phase (``grading.pipeline.PHASES``: media
preprocessing, building items, the grader's forward pass, postprocess, the batched
write); the profile splits the drain time into those and the rest (claims, fetching rows,
Celery). It uses its OWN database (the name must contain "bench", e.g. eduplatform_bench)
and Redis db 14, never the test database:

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/eduplatform_bench REDIS_URL=redis://127.0.0.1:6379/14 \\
        python manage.py benchmark_pipeline --mix text --n 500 --json pipeline-text.json
"""

from __future__ import annotations

import csv
import json
import os
import platform
import re
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
DATASETS = ROOT.parent / "shared" / "datasets"
MOHLER = DATASETS / "grading" / "mohler_short_answers.csv"
PHOTOS = DATASETS / "handwriting" / "csafe_pages"
SPEECH = DATASETS / "speech"
PHASE_LINE = re.compile(r"grading phases (\{.*\})")


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


def _media(mix: str, n: int) -> tuple[list[Path], str]:
    if mix == "photo":
        files = sorted((PHOTOS / "images").glob("*.png"))
        source = "CSAFE handwritten pages"
    else:
        files = sorted(SPEECH.glob("*.wav"))
        source = "speechocean762 clips"
    if not files:
        raise CommandError(f"no {mix} inputs under {PHOTOS if mix == 'photo' else SPEECH}")
    return [files[i % len(files)] for i in range(n)], source


class Command(BaseCommand):
    help = "Measure API -> Redis -> celery worker -> DB grading throughput, latency and where the time goes."

    def add_arguments(self, parser):
        parser.add_argument("--mix", choices=["text", "photo", "audio"], default="text")
        parser.add_argument("--n", type=int, default=None, help="submissions per phase (text 500, media 24)")
        parser.add_argument("--workers", type=int, default=1, help="celery worker processes (-c)")
        parser.add_argument("--rate-fraction", type=float, default=0.5, help="live POST rate / backlog capacity")
        parser.add_argument("--json", dest="json_out")
        parser.add_argument("--timeout", type=float, default=1800)

    def handle(self, *args, mix: str, n: int | None, workers: int, rate_fraction: float, json_out, timeout, **o):
        if connection.vendor != "postgresql" or not settings.REDIS_URL:
            raise CommandError("benchmark_pipeline needs DATABASE_URL=postgres://... and REDIS_URL=redis://...")
        db_name = str(connection.settings_dict.get("NAME") or "")
        if "bench" not in db_name:
            raise CommandError(
                f"refusing to use database {db_name!r}: give the benchmark its own (e.g. eduplatform_bench)"
            )
        if not settings.REDIS_URL.rstrip("/").endswith("/14"):
            raise CommandError("use Redis db 14 for the benchmark (REDIS_URL=redis://127.0.0.1:6379/14)")
        import redis
        import requests
        from django.contrib.auth import get_user_model
        from django.core.management import call_command
        from rest_framework.authtoken.models import Token

        from eduplatform.core import api as core
        from eduplatform.core.api import Course, Submission

        n = n or (500 if mix == "text" else 24)
        load_before = os.getloadavg()[0]
        call_command("migrate", verbosity=0)
        redis.Redis.from_url(settings.REDIS_URL).flushdb()
        Course.objects.filter(code="BENCH-PIPE").delete()
        course = core.course_create(code="BENCH-PIPE", title="Pipeline benchmark")
        modality = {"text": "text", "photo": "image", "audio": "audio"}[mix]
        assignment = core.assignment_create(
            course=course,
            title="Bench",
            modalities=[modality],
            max_score=5,
            max_attempts=2 * n + 2,
            instructions="Explain what a stack is." if mix != "photo" else "Copy the paragraph.",
            reference_answers=["A stack is a last-in first-out structure with push and pop at the top."],
        )
        user, _ = get_user_model().objects.get_or_create(username="bench-student")
        core.enrollment_create(user=user, course=course)
        token = Token.objects.get_or_create(user=user)[0].key
        if mix == "text":
            inputs, source = _texts(n)
        else:
            inputs, source = _media(mix, n)

        env = {**os.environ, "HF_HUB_OFFLINE": "1", "EDUPLATFORM_LOG_LEVEL": "WARNING"}
        worker_env = {**env, "EDUPLATFORM_LOG_LEVEL": "INFO"}  # the per-batch phase lines
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
        worker_log = logs / f"worker-{mix}.log"

        def start_worker() -> subprocess.Popen:
            proc = subprocess.Popen(
                [sys.executable, "-m", "celery", "-A", "eduplatform", "worker", "-Q", "gpu,default", "-c", str(workers)]
                + ["--without-gossip", "--without-mingle", "-n", f"bench-{mix}@%h", "--loglevel", "INFO"],
                cwd=ROOT,
                env=worker_env,
                stdout=open(worker_log, "wb"),
                stderr=subprocess.STDOUT,
            )
            procs.append(proc)
            self._wait(lambda: " ready." in worker_log.read_text(errors="replace"), 300, "worker start")
            return proc

        def post_one(http, url, item) -> int:
            if mix == "text":
                resp = http.post(url, data={"assignment": assignment.pk, "text": item})
            else:
                with open(item, "rb") as fh:
                    content_type = "image/png" if mix == "photo" else "audio/wav"
                    resp = http.post(
                        url, data={"assignment": assignment.pk}, files={"files": (item.name, fh, content_type)}
                    )
            if resp.status_code != 201:
                raise CommandError(f"POST failed: {resp.status_code} {resp.text[:300]}")
            return resp.json()["id"]

        def post_all(http, url, rate: float | None = None) -> tuple[dict[int, float], float]:
            posted: dict[int, float] = {}
            t0 = time.time()
            for k, item in enumerate(inputs):
                if rate:
                    time.sleep(max(0.0, t0 + k / rate - time.time()))
                t = time.time()
                posted[post_one(http, url, item)] = t
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
            http = requests.Session()
            http.headers["Authorization"] = f"Token {token}"
            url = f"http://127.0.0.1:{port}/api/v1/submissions/"
            self._wait(lambda: self._up(http, url), 120, "server start")
            # 1. backlog: N submissions wait; a warm worker drains them in claimed batches
            post_one(http, url, inputs[0])  # the warm-up submission is graded first, outside the numbers
            backlog, _ = post_all(http, url)
            start_worker()
            drained = wait_graded(list(backlog))
            drain_s = max(g.timestamp() for _, g in drained.values()) - min(c.timestamp() for c, _ in drained.values())
            capacity = n / drain_s
            phases_backlog = self._phases(worker_log)
            # 2. live: students submit at a fraction of that capacity while the worker grades
            posted, post_s = post_all(http, url, rate=rate_fraction * capacity)
            done = wait_graded(list(posted))
        finally:
            for proc in procs:
                proc.terminate()
                try:
                    proc.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    proc.kill()
        lat = np.array([done[i][1].timestamp() - posted[i] for i in posted])
        live_wall = max(g.timestamp() for _, g in done.values()) - min(posted.values())
        raw, raw_info = self._raw_encoder(mix, inputs)
        profile = self._profile(phases_backlog, drain_s)
        result = {
            "mix": mix,
            "n": n,
            "inputs": source,
            "workers": workers,
            "device": raw_info["device"],
            "claim_batch_size": self._batch_size(),
            "backlog_drain_per_s": round(capacity, 2),
            "encoder_items_per_s": raw,
            "backlog_vs_encoder": round(capacity / raw, 3),
            "live_rate_target_per_s": round(rate_fraction * capacity, 2),
            "live_submissions_per_s": round(n / live_wall, 2),
            "live_latency_p50_s": round(float(np.percentile(lat, 50)), 3),
            "live_latency_p95_s": round(float(np.percentile(lat, 95)), 3),
            "post_per_s": round(n / post_s, 2),
            "profile_backlog_share": profile,
            "encoder": raw_info,
            "date": date.today().isoformat(),
            "machine": f"{platform.machine()} {os.cpu_count()} cores",
            "loadavg_1min": {"before": round(load_before, 2), "after": round(os.getloadavg()[0], 2)},
        }
        width = 28
        for key, value in result.items():
            self.stdout.write(f"{key:{width}}{value}")
        if json_out:
            Path(json_out).write_text(json.dumps(result, indent=2))
            self.stdout.write(f"wrote {json_out}")

    @staticmethod
    def _batch_size() -> int:
        from eduplatform.core.conf import settings as conf

        return int(conf.GRADING_BATCH_SIZE)

    @staticmethod
    def _phases(log: Path) -> dict[str, float]:
        """The last cumulative phase line of the worker log (seconds per phase since it started)."""
        lines = PHASE_LINE.findall(log.read_text(errors="replace"))
        return json.loads(lines[-1]) if lines else {}

    @staticmethod
    def _profile(phases: dict[str, float], drain_s: float) -> dict[str, float]:
        """Share of the backlog's drain time per phase; the warm-up batch is in the sums too, so
        shares are approximate for small N. "other" = claims, fetching rows, Celery, idle."""
        keys = ["preprocess", "items", "forward", "postprocess", "write"]
        out = {k: round(phases.get(k, 0.0) / drain_s, 3) for k in keys}
        out["other"] = round(max(0.0, 1.0 - sum(out.values())), 3)
        return out

    @staticmethod
    def _raw_encoder(mix: str, inputs: list) -> tuple[float, dict]:
        """Items/s of the mix's encoder alone on the same inputs, after one untimed call."""
        from multimodal import registry

        if mix == "text":
            enc = registry.get_text_encoder()
            enc.encode(list(inputs[:64]))
            t = time.perf_counter()
            enc.encode(list(inputs))
            rate = len(inputs) / (time.perf_counter() - t)
            return round(rate, 1), {"encoder": "MiniLM", "device": enc.info.device, "batch_size": enc.batch_size}
        if mix == "photo":
            from multimodal.image import encode_images

            ocr = registry.get_ocr()
            encode_images(inputs[:1], ocr=ocr)
            t = time.perf_counter()
            encode_images(inputs, ocr=ocr)
            rate = len(inputs) / (time.perf_counter() - t)
            return round(rate, 3), {"encoder": ocr.version, "device": "cpu (onnxruntime)", "batch_size": len(inputs)}
        from multimodal.audio import encode_audio, warm_librosa

        warm_librosa()
        asr = registry.get_asr()
        encode_audio(inputs[:1], asr=asr)
        t = time.perf_counter()
        encode_audio(inputs, asr=asr)
        rate = len(inputs) / (time.perf_counter() - t)
        return round(rate, 3), {"encoder": asr.name, "device": asr.device, "batch_size": 1}

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
