"""The real app under gunicorn on 127.0.0.1, started and stopped around the measurements."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType


@dataclass(frozen=True)
class ServerConfig:
    workers: int = 2
    worker_class: str = "sync"  # sync | gthread
    threads: int = 1  # per worker, gthread only
    gunicorn_access_log: bool = False  # the app writes its own access line per request

    def describe(self) -> str:
        kind = self.worker_class
        if kind == "gthread":
            kind += f" ×{self.threads} threads"
        log = ", gunicorn access log on" if self.gunicorn_access_log else ""
        return f"gunicorn {self.workers} {kind} workers{log}"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class GunicornServer:
    """`with GunicornServer(...) as server:` starts gunicorn, waits for /readyz, stops it."""

    def __init__(
        self, *, root: Path, env: dict[str, str], config: ServerConfig, log_path: Path
    ) -> None:
        self.root = root
        self.env = env
        self.config = config
        self.log_path = log_path
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def command(self) -> list[str]:
        gunicorn = Path(sys.executable).with_name("gunicorn")
        command = [
            str(gunicorn),
            "--bind",
            f"127.0.0.1:{self.port}",
            "--workers",
            str(self.config.workers),
            "--worker-class",
            self.config.worker_class,
            "--chdir",
            str(self.root),
            # gunicorn.conf.py restarts a worker after 200 000-300 000 requests. A full run
            # sends each worker about that many in minutes, and a restart inside a measured
            # slice measures a boot and empty caches (seen: the users board at 49 % of /healthz
            # in the round a worker restarted in), which serving spreads over hours.
            "--max-requests",
            "0",
        ]
        if self.config.worker_class == "gthread":
            command += ["--threads", str(self.config.threads)]
        if self.config.gunicorn_access_log:
            command += ["--access-logfile", "-"]
        return [*command, "wsgi:app"]

    def __enter__(self) -> GunicornServer:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            self.command(),
            cwd=self.root,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()
        try:
            self.wait_ready()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def wait_ready(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        last_error = ""
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise RuntimeError(f"gunicorn exited early; see {self.log_path}")
            try:
                with urllib.request.urlopen(f"{self.base_url}/readyz", timeout=2) as response:
                    if response.status == 200:
                        return
            except OSError as error:
                last_error = str(error)
            time.sleep(0.3)
        raise RuntimeError(
            f"gunicorn not ready after {timeout}s ({last_error}); see {self.log_path}"
        )

    def worker_pids(self) -> list[int]:
        """The worker processes (children of the master), for a profiler to attach to."""
        if self.process is None:
            return []
        children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children")
        try:
            return [int(pid) for pid in children.read_text().split()]
        except OSError:
            return []

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        # gunicorn's graceful stop; its session id is its own pid (start_new_session).
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)
