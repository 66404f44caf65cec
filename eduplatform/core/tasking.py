"""Celery conventions for every app of the plugin, written once.

* ``task(...)``: ``shared_task`` with the house retry policy (acks_late, retries with
  backoff on transient database/broker errors, named time limits). Tasks are thin
  shells: ids in, counts out, the work in services.
* ``enqueue(name, **kwargs)``: wake a worker by task *name*. Callers never import a
  ``tasks`` module, so a web process never imports worker code (and, through it,
  torch); the row in the database is the source of truth and the message only a
  wake-up, so a failed enqueue is logged, never raised: the periodic sweeper
  re-enqueues what was not delivered.
* ``enqueue_on_commit``: the same, after the current transaction commits.

With ``CELERY_TASK_ALWAYS_EAGER`` (the embedded default) the task runs in-process.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from django.db import InterfaceError, OperationalError, transaction

from eduplatform.core.conf import settings

log = logging.getLogger(__name__)

#: Errors worth retrying: the database or the broker was briefly unreachable.
TRANSIENT_ERRORS: tuple[type[BaseException], ...] = (OperationalError, InterfaceError, ConnectionError, TimeoutError)
DEFAULT_MAX_RETRIES = 5


def task(
    name: str,
    *,
    time_limit: int,
    soft_time_limit: int | None = None,
    max_retries: int = DEFAULT_MAX_RETRIES,
    autoretry_for: tuple[type[BaseException], ...] = (),
    bind: bool = False,
    **options: Any,
) -> Callable:
    """``shared_task`` with the shared policy: late acks, retries with backoff, time limits."""
    from celery import shared_task

    return shared_task(
        name=name,
        bind=bind,
        acks_late=True,
        reject_on_worker_lost=True,
        autoretry_for=TRANSIENT_ERRORS + tuple(autoretry_for),
        retry_backoff=True,
        retry_backoff_max=300,
        retry_jitter=True,
        max_retries=max_retries,
        time_limit=time_limit,
        soft_time_limit=soft_time_limit or max(1, time_limit - 30),
        **options,
    )


def _registered(app, name: str):
    task_obj = app.tasks.get(name)
    if task_obj is None:  # tasks modules not imported yet in this process (eager mode): autodiscover
        app.loader.import_default_modules()
        task_obj = app.tasks.get(name)
    return task_obj


def enqueue(name: str, /, **kwargs: Any) -> bool:
    """Send task ``name`` with keyword arguments; True when handed to the broker (or run eagerly).

    Never raises: a broker outage must not turn a saved submission into a 500 (the
    sweeper picks up rows whose wake-up was lost).
    """
    from celery import current_app

    try:
        if current_app.conf.task_always_eager:
            task_obj = _registered(current_app, name)
            if task_obj is None:
                log.error("task %s is not registered in this process; nothing was run", name)
                return False
            if settings.EMBEDDED_TASKS == "thread":
                _embedded_pool().submit(_run_embedded, task_obj, name, kwargs)
                return True
            result = task_obj.apply(kwargs=kwargs, throw=False)
            if result.failed():
                log.error("task %s failed in-process: %r", name, result.result)
            return True
        current_app.send_task(name, kwargs=kwargs)
        return True
    except Exception:  # broker down, serialisation error...: logged with the task name, ids only
        log.exception("could not enqueue %s; the periodic sweeper will retry", name)
        return False


_pool = None


def _embedded_pool():
    """One background thread per process for the embedded mode (tasks run one at a time, in order)."""
    global _pool
    if _pool is None:
        from concurrent.futures import ThreadPoolExecutor

        _pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="eduplatform-embedded-task")
    return _pool


def _run_embedded(task_obj, name: str, kwargs: dict) -> None:
    from django.db import close_old_connections

    try:
        result = task_obj.apply(kwargs=kwargs, throw=False)
        if result.failed():
            log.error("task %s failed in the embedded worker thread: %r", name, result.result)
    finally:
        close_old_connections()


def enqueue_on_commit(name: str, /, **kwargs: Any) -> None:
    """``enqueue`` after the current transaction commits (immediately outside one)."""
    transaction.on_commit(lambda: enqueue(name, **kwargs))
