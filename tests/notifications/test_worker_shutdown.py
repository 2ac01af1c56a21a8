"""A deploy stops the worker with SIGTERM: it finishes the job in hand, then exits."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from rq import Queue
from rq.job import JobStatus


def test_sigterm_lets_the_job_in_hand_finish(app, redis_client):
    queue = Queue("shutdown-test", connection=redis_client)
    job = queue.enqueue("time.sleep", 3)
    env = {
        **os.environ,
        "DATABASE_URL": app.extensions["engine"].url.render_as_string(hide_password=False),
        "REDIS_URL": app.config["REDIS_URL"],
        "SECRET_KEY": "x" * 40,
        "WORKER_QUEUES": "shutdown-test",
    }
    worker = subprocess.Popen(
        [sys.executable, "-m", "flask", "--app", "wsgi", "worker", "--no-cron"],
        env=env,
        cwd=Path(__file__).resolve().parents[2],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while job.get_status(refresh=True) != JobStatus.STARTED:
            assert time.monotonic() < deadline, "the worker never started the job"
            time.sleep(0.05)
        worker.send_signal(signal.SIGTERM)  # what a deploy (or systemd, or Kubernetes) sends
        assert worker.wait(timeout=60) == 0
        assert job.get_status(refresh=True) == JobStatus.FINISHED
    finally:
        if worker.poll() is None:
            worker.kill()
