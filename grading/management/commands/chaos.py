"""`manage.py chaos --n 200 --json OUT`: submissions through the real API while workers are killed.

A fault-injection run on 127.0.0.1 only, against a PostgreSQL database of its own (its
name must contain "chaos": it is dropped and created afresh) and a Redis of its own
(REDIS_URL's port, never 6379; started here with no persistence and stopped at the end):

* gunicorn with the production config serves the API; ``--gpu-workers`` grading workers
  (``-Q gpu -c 1``), one ``-Q default`` worker for the sweeper and ``celery beat``;
* N submissions (text, and every ``--photo-every``-th with a photo) are POSTed by
  students over ``--post-seconds``, while the pool process of a grading worker is
  SIGKILLed every few seconds (the OOM killer), one whole worker is SIGKILLed (and a new
  one started), Redis is restarted once (every queued message is lost) and beat is
  SIGKILLed and started again; like systemd's ``Restart=always``, the run starts a new
  worker whenever one's main process has exited;
* then it waits until every accepted submission is graded (``--timeout``) and checks:
  every POST a 201 and none a 5xx; every 201 graded exactly once (one Grade, one current);
  none failed; claim bookkeeping consistent (no token or lease left, no model failure
  counted, ``claim_count > lease_losses``).

Exits 1 when a check fails. The counts and the drain time are on the LAST line.
"""

from __future__ import annotations

import io
import json
import os
import platform
import random
import secrets
import sys
import threading
import time
from datetime import date
from pathlib import Path
from urllib.parse import urlparse

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import connection

from grading.management.fleet import CeleryBeat, CeleryWorker, RedisServer, WebServer, free_port, wait_until

ANSWERS = [
    "A stack is last in, first out: you push on the top and pop the most recent element first.",
    "Elements are added and removed at the same end, the top, so the last one pushed is the first popped.",
    "A stack is a LIFO structure with push, pop and peek; a function call stack is an example.",
    "It is like a pile of plates: you put a plate on top and take the top plate off first.",
    "A stack stores items so that the newest is removed first; operations are push and pop at the top.",
    "First in first out, like a queue at the shop.",
    "A stack is a list where you can only reach the top item.",
]
PHOTO_TEXT = "A stack is last in first out"
MAX_N = 2000


def _photo_png(i: int) -> bytes:
    from PIL import Image, ImageDraw

    img = Image.new("RGB", (640, 160), "white")
    ImageDraw.Draw(img).text((20, 60), f"{PHOTO_TEXT} ({i})", fill="black")
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()


class Command(BaseCommand):
    help = "Fault-injection run: API submissions while grading workers are killed and Redis restarts."
    requires_system_checks: list[str] = []

    def add_arguments(self, parser):
        parser.add_argument("--n", type=int, default=200, help=f"submissions to POST (at most {MAX_N})")
        parser.add_argument("--photo-every", type=int, default=10, help="every k-th submission carries a photo")
        parser.add_argument("--post-seconds", type=float, default=90.0, help="spread the POSTs over this long")
        parser.add_argument("--gpu-workers", type=int, default=2)
        parser.add_argument("--kill-every", type=float, nargs=2, default=(8.0, 14.0), metavar=("MIN_S", "MAX_S"))
        parser.add_argument("--lease-seconds", type=int, default=15, help="grading lease (heartbeat every third)")
        parser.add_argument("--sweep-seconds", type=float, default=5.0, help="beat's sweep interval")
        parser.add_argument("--timeout", type=float, default=900.0, help="give up draining after this long")
        parser.add_argument("--seed", type=int, default=13)
        parser.add_argument("--json", dest="json_out")

    def handle(self, *args, **opts):
        n = opts["n"]
        if not 1 <= n <= MAX_N:
            raise CommandError(f"--n must be 1..{MAX_N}")
        db = settings.DATABASES["default"]
        if connection.vendor != "postgresql" or "chaos" not in db["NAME"]:
            raise CommandError(
                "chaos needs DATABASE_URL=postgres://.../<name with 'chaos'> (it is dropped and recreated)"
            )
        redis_url = urlparse(settings.REDIS_URL or "")
        if redis_url.hostname not in ("127.0.0.1", "localhost") or not redis_url.port or redis_url.port == 6379:
            raise CommandError("chaos needs REDIS_URL=redis://127.0.0.1:<port other than 6379>/0 (a Redis of its own)")
        if db.get("HOST") not in ("127.0.0.1", "localhost", "", None):
            raise CommandError("chaos runs against 127.0.0.1 only")
        self.rng = random.Random(opts["seed"])
        self.var = Path(settings.VAR_DIR) / "chaos"
        self.var.mkdir(parents=True, exist_ok=True)
        for old in self.var.glob("*.log"):
            old.unlink()
        self._recreate_database(db)
        redis = RedisServer(redis_url.port, self.var / "redis.log").start()
        procs: list = []
        try:
            result = self._run(opts, redis, procs)
        finally:
            for proc in procs:
                proc.stop()
            redis.stop()
        if opts["json_out"]:
            Path(opts["json_out"]).parent.mkdir(parents=True, exist_ok=True)
            Path(opts["json_out"]).write_text(json.dumps(result, indent=2))
        for problem in result["problems"]:
            self.stdout.write(f"FAIL: {problem}")
        self.stdout.write(self._last_line(result))
        if result["problems"]:
            sys.exit(1)

    # -- set-up ---------------------------------------------------------------------

    def _recreate_database(self, db: dict) -> None:
        import psycopg
        from django.core.management import call_command

        connection.close()
        dsn = f"host={db['HOST'] or '127.0.0.1'} port={db['PORT'] or 5432} user={db['USER']} dbname=postgres"
        if db.get("PASSWORD"):
            dsn += f" password={db['PASSWORD']}"
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{db["NAME"]}" WITH (FORCE)')
            conn.execute(f'CREATE DATABASE "{db["NAME"]}"')
        call_command("migrate", verbosity=0)

    def _course(self, n: int) -> tuple[list, list[str]]:
        from django.contrib.auth import get_user_model
        from rest_framework.authtoken.models import Token

        from eduplatform.core import api as core

        course = core.course_create(code="CHAOS", title="Fault-injection run")
        assignments = [
            core.assignment_create(
                course=course,
                title=f"Stacks {k}",
                instructions="Explain what a stack is and how push and pop work.",
                modalities=["text", "image"],
                reference_answers=[ANSWERS[0]],
                max_score=5,
                max_attempts=n + 1,
            )
            for k in (1, 2)
        ]
        tokens = []
        for i in range(min(20, n)):
            user = get_user_model().objects.create_user(username=f"chaos-student-{i}")
            core.enrollment_create(user=user, course=course)
            tokens.append(Token.objects.create(user=user).key)
        return assignments, tokens

    def _env(self, redis: RedisServer, opts) -> dict[str, str]:
        return {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": os.environ.get("DJANGO_SETTINGS_MODULE", "eduplatform.settings"),
            "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
            "DATABASE_URL": os.environ["DATABASE_URL"],
            "REDIS_URL": redis.url,
            "EDUPLATFORM_VAR_DIR": str(Path(settings.VAR_DIR)),
            "HF_HUB_OFFLINE": "1",
            "TRANSFORMERS_OFFLINE": "1",
            "EDUPLATFORM_GRADING_LEASE_SECONDS": str(opts["lease_seconds"]),
            "EDUPLATFORM_SWEEP_INTERVAL_SECONDS": str(opts["sweep_seconds"]),
            "EDUPLATFORM_PENDING_REQUEUE_SECONDS": str(int(max(5, 2 * opts["sweep_seconds"]))),
        }

    # -- the run ----------------------------------------------------------------------

    def _run(self, opts, redis: RedisServer, procs: list) -> dict:
        import requests

        n = opts["n"]
        assignments, tokens = self._course(n)
        env = self._env(redis, opts)
        t_setup = time.monotonic()
        gpu = [
            CeleryWorker(f"chaos-gpu{i}", {**env, "EDUPLATFORM_WARM_MODELS": "text,image"}, self.var / f"gpu{i}.log")
            for i in range(opts["gpu_workers"])
        ]
        default = CeleryWorker(
            "chaos-default", {**env, "EDUPLATFORM_WARM_MODELS": "none"}, self.var / "default.log", queues="default"
        )
        web = WebServer(free_port(), env, self.var / "web.log")
        beat = CeleryBeat(env, self.var / "beat.log", self.var / "beat-schedule")
        for proc in [*gpu, default, web, beat]:
            procs.append(proc.start())
        for w in [*gpu, default]:
            w.wait_ready()
        web.wait_ready()
        self.stdout.write(f"started in {time.monotonic() - t_setup:.1f}s: {len(gpu)} gpu workers, sweeper, beat, web")

        faults = {
            "child_kills": 0,
            "worker_kills": 0,
            "worker_restarts": 0,
            "redis_restarts": 0,
            "beat_restarts": 0,
            "events": [],
        }
        posting_done = threading.Event()
        t0 = time.monotonic()

        def note(what: str) -> None:
            faults["events"].append(f"{time.monotonic() - t0:6.1f}s {what}")

        def injector() -> None:
            post_s = opts["post_seconds"]
            plan = [(0.35 * post_s, "worker"), (0.6 * post_s, "redis"), (0.8 * post_s, "beat")]
            next_kill = t0 + self.rng.uniform(*opts["kill_every"])
            while not posting_done.wait(0.2):
                now = time.monotonic()
                if plan and now - t0 >= plan[0][0]:
                    _, what = plan.pop(0)
                    if what == "worker":  # the supervisor starts a new one
                        with lock:
                            victim = next(w for w in gpu if w.alive())
                            victim.kill()
                        faults["worker_kills"] += 1
                        note(f"SIGKILL whole worker {victim.name}")
                    elif what == "beat":
                        beat.kill()
                        note("SIGKILL beat")
                        procs.append(beat.start())
                        faults["beat_restarts"] += 1
                        note("beat started again")
                    else:
                        redis.stop()
                        note("Redis stopped")
                        time.sleep(2)
                        redis.start()
                        faults["redis_restarts"] += 1
                        note("Redis started (empty)")
                if now >= next_kill:
                    with lock:
                        live = [w for w in gpu if w.alive() and w.pool_pids()]
                    if live:
                        worker = self.rng.choice(live)
                        pid = worker.kill_pool_process()
                        if pid:
                            faults["child_kills"] += 1
                            note(f"SIGKILL pool process {pid} of {worker.name}")
                    next_kill = now + self.rng.uniform(*opts["kill_every"])

        lock = threading.Lock()
        finished = threading.Event()

        def supervisor() -> None:
            """What systemd's Restart=always does for a worker whose main process exited."""
            while not finished.wait(1.0):
                with lock:
                    for i, w in enumerate(gpu):
                        if not w.alive():
                            restarts = faults["worker_restarts"] = faults["worker_restarts"] + 1
                            name = f"chaos-gpu{i}-{restarts}"
                            gpu[i] = CeleryWorker(name, {**w.env}, self.var / f"{name}.log").start()
                            procs.append(gpu[i])
                            note(f"supervisor: {w.name} exited ({w.proc.returncode}); started {name}")

        threading.Thread(target=supervisor, name="chaos-supervisor", daemon=True).start()
        statuses: dict[int, int] = {}
        accepted: list[int] = []
        errors: list[str] = []  # requests that got no HTTP answer, and the first answers that were not 201
        latencies: list[float] = []
        thread = threading.Thread(target=injector, name="chaos-faults", daemon=True)
        thread.start()
        sessions = []
        for key in tokens:
            s = requests.Session()
            s.headers["Authorization"] = f"Token {key}"
            sessions.append(s)
        url = f"{web.url}/api/v1/submissions/"
        photos = 0
        try:
            for i in range(n):
                due = t0 + i * opts["post_seconds"] / n
                time.sleep(max(0.0, due - time.monotonic()))
                data = {"assignment": assignments[i % 2].pk, "text": ANSWERS[i % len(ANSWERS)] + f" ({i})"}
                files = None
                if opts["photo_every"] and i % opts["photo_every"] == 0:
                    files = {"files": (f"page{i}.png", _photo_png(i), "image/png")}
                    photos += 1
                started = time.monotonic()
                try:
                    resp = sessions[i % len(sessions)].post(url, data=data, files=files, timeout=60)
                except requests.RequestException as exc:
                    statuses[0] = statuses.get(0, 0) + 1  # no HTTP answer at all
                    errors.append(f"POST {i}: {exc.__class__.__name__}")
                    continue
                latencies.append(time.monotonic() - started)
                statuses[resp.status_code] = statuses.get(resp.status_code, 0) + 1
                if resp.status_code == 201:
                    accepted.append(resp.json()["id"])
                else:
                    errors.append(f"POST {i}: {resp.status_code} {resp.text[:200]}")
        finally:
            posting_done.set()
            thread.join(timeout=120)
        posted_s = time.monotonic() - t0
        self.stdout.write(f"posted {n} in {posted_s:.1f}s")

        from eduplatform.core.api import Submission

        S = Submission.Status
        open_states = [S.PENDING, S.RUNNING]
        try:
            wait_until(
                lambda: not Submission.objects.filter(pk__in=accepted, status__in=open_states).exists(),
                opts["timeout"],
                "every accepted submission to be graded",
                interval=0.5,
            )
            timed_out = False
        except TimeoutError:
            timed_out = True
        finally:
            finished.set()
        drain_s = time.monotonic() - t0 - posted_s
        self.stdout.write("faults and restarts:\n  " + "\n  ".join(faults["events"]))
        stale_writes = sum(p.log_text().count("claim lost before write") for p in procs if isinstance(p, CeleryWorker))
        result = self._check(accepted, statuses, errors, timed_out)
        result.update(
            {
                "n": n,
                "photos": photos,
                "gpu_workers": opts["gpu_workers"],
                "child_kills": faults["child_kills"],
                "worker_kills": faults["worker_kills"],
                "redis_restarts": faults["redis_restarts"],
                "beat_restarts": faults["beat_restarts"],
                "worker_restarts": faults["worker_restarts"],
                "fault_events": faults["events"],
                "post_seconds": round(posted_s, 1),
                "drain_seconds": round(drain_s, 1),
                "post_latency_p50_s": round(sorted(latencies)[len(latencies) // 2], 3) if latencies else None,
                "post_latency_max_s": round(max(latencies), 3) if latencies else None,
                "stale_results_refused": stale_writes,
                "lease_seconds": opts["lease_seconds"],
                "sweep_seconds": opts["sweep_seconds"],
                "date": date.today().isoformat(),
                "machine": f"{platform.machine()} {os.cpu_count()} cores",
                "loadavg_1min": round(os.getloadavg()[0], 2),
            }
        )
        if not all(faults[k] for k in ("child_kills", "worker_kills", "redis_restarts", "beat_restarts")):
            result["problems"].append("not every fault was injected (run longer: --post-seconds)")
        return result

    # -- the checks -------------------------------------------------------------------

    def _check(self, accepted: list[int], statuses: dict[int, int], errors: list[str], timed_out: bool) -> dict:
        from django.db.models import Count, F, Q

        from eduplatform.core.api import Submission
        from grading.models import Grade

        S = Submission.Status
        subs = Submission.objects.filter(pk__in=accepted)
        by_status = dict(subs.values_list("status").annotate(c=Count("id")).values_list("status", "c"))
        grades = (
            Grade.objects.filter(submission_id__in=accepted)
            .values("submission_id")
            .annotate(total=Count("id"), current=Count("id", filter=Q(is_current=True)))
        )
        once = sum(1 for g in grades if g["total"] == 1 and g["current"] == 1)
        twice = sum(1 for g in grades if g["total"] > 1 or g["current"] > 1)
        graded = by_status.get(S.GRADED, 0) + by_status.get(S.NEEDS_REVIEW, 0)
        bookkeeping_bad = (
            subs.filter(Q(claim_token__gt="") | Q(lease_expires_at__isnull=False) | Q(model_failures__gt=0)).count()
            + subs.filter(claim_count__lte=F("lease_losses")).count()
        )
        losses = list(subs.filter(lease_losses__gt=0).values_list("lease_losses", flat=True))
        problems = []
        non_201 = sum(c for code, c in statuses.items() if code != 201)
        server_errors = sum(c for code, c in statuses.items() if code >= 500)
        if server_errors:
            problems.append(f"{server_errors} POSTs answered 5xx")
        if non_201:
            problems.append(f"{non_201} POSTs not accepted (0 = no answer): {errors[:5]}")
        if timed_out:
            problems.append(f"not drained: {by_status}")
        if by_status.get(S.FAILED):
            problems.append(f"{by_status[S.FAILED]} submissions failed")
        if once != len(accepted) or twice:
            problems.append(f"graded exactly once: {once} of {len(accepted)} ({twice} with more than one grade)")
        if bookkeeping_bad:
            problems.append(f"{bookkeeping_bad} rows with inconsistent claim bookkeeping")
        return {
            "accepted": len(accepted),
            "http_statuses": {str(k): v for k, v in sorted(statuses.items())},
            "non_201": non_201,
            "server_errors": server_errors,
            "graded": graded,
            "failed": by_status.get(S.FAILED, 0),
            "graded_once": once,
            "graded_twice": twice,
            "rows_hit_by_kills": len(losses),
            "lease_losses_total": sum(losses),
            "lease_losses_max": max(losses, default=0),
            "problems": problems,
        }

    @staticmethod
    def _last_line(r: dict) -> str:
        verdict = "PASS" if not r["problems"] else "FAIL"
        return (
            f"chaos {verdict}: n={r['n']} photos={r['photos']} 201={r['accepted']} 5xx={r['server_errors']} "
            f"graded={r['graded']} failed={r['failed']} graded_once={r['graded_once']}/{r['accepted']} "
            f"child_kills={r['child_kills']} worker_kills={r['worker_kills']} redis_restarts={r['redis_restarts']} "
            f"beat_restarts={r['beat_restarts']} worker_restarts={r['worker_restarts']} "
            f"rows_hit={r['rows_hit_by_kills']} lease_losses={r['lease_losses_total']} "
            f"stale_results_refused={r['stale_results_refused']} post_s={r['post_seconds']} "
            f"drain_s={r['drain_seconds']}"
        )
