"""`flask --app wsgi worker`: an RQ worker with the scheduler, plus the recurring jobs (rq.cron)."""

from __future__ import annotations

import logging
import threading

import click
from flask import current_app
from rq import Queue, SimpleWorker
from rq.cron import CronScheduler

from app.extensions import get_queue_redis
from app.notifications import jobs

log = logging.getLogger(__name__)


class _ThreadCronScheduler(CronScheduler):
    # rq's CronScheduler installs signal handlers, which only the main thread may do;
    # the worker in the main thread already handles SIGINT/SIGTERM.
    def _install_signal_handlers(self) -> None:
        pass


def build_cron(connection: object, queue_name: str) -> CronScheduler:
    """rq's cron scheduler with every recurring job of `jobs.SCHEDULE`."""
    cron = _ThreadCronScheduler(connection=connection)  # type: ignore[arg-type]
    for func, timing in jobs.SCHEDULE:
        cron.register(func, queue_name, **timing)
    return cron


class _Worker(SimpleWorker):
    def unsubscribe(self) -> None:
        # rq's pubsub thread sleeps up to 60 s in get_message and rq waits for it: a burst
        # worker stayed a minute after its last job. The thread is a daemon; stop waiting.
        if self.pubsub_thread:
            self.pubsub.unsubscribe()
            self.pubsub_thread.stop(timeout=1)


@click.command("worker")
@click.option("--burst", is_flag=True, help="Work until the queues are empty, then stop.")
@click.option("--cron/--no-cron", default=True, show_default=True, help="Run the recurring jobs.")
def worker_command(burst: bool, cron: bool) -> None:
    """The background worker: push delivery and scheduled jobs (RQ with its scheduler)."""
    connection = get_queue_redis()
    names = [name.strip() for name in current_app.config["WORKER_QUEUES"].split(",") if name]
    queues = [Queue(name, connection=connection) for name in names]
    if cron and not burst:
        scheduler = build_cron(connection, names[0])
        threading.Thread(target=scheduler.start, name="rq-cron", daemon=True).start()
    # SimpleWorker runs jobs in this process (inside the app context the CLI opened): no fork
    # per job, which pushes need for throughput. Scale out by running more workers.
    worker = _Worker(queues, connection=connection)
    worker.work(burst=burst, with_scheduler=True)
