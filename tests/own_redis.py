"""A redis-server owned by one test, for outages that must not touch the shared server."""

from __future__ import annotations

import socket
import subprocess
from pathlib import Path

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry


class OwnRedis:
    """A redis-server this test starts and stops, on a free port in a temp dir."""

    def __init__(self, folder: Path, *, persistent: bool) -> None:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.folder = folder
        self.persistent = persistent
        self.process: subprocess.Popen[str] | None = None
        # Configured as the app's own client: fail fast, no backoff, while the server is down.
        self.client = redis.Redis(
            host="127.0.0.1",
            port=self.port,
            socket_timeout=1,
            socket_connect_timeout=1,
            retry=Retry(NoBackoff(), 1),
        )

    def start(self) -> None:
        args = ["/usr/bin/redis-server", "--port", str(self.port), "--bind", "127.0.0.1"]
        args += ["--dir", str(self.folder), "--save", ""]
        args += ["--appendonly", "yes" if self.persistent else "no"]
        self.process = subprocess.Popen(args, stdout=subprocess.PIPE, text=True)
        assert self.process.stdout is not None
        for line in self.process.stdout:  # wait for the server's own word, not a timer
            if "Ready to accept connections" in line:
                break
        self.process.stdout.close()
        assert self.client.ping()

    def stop(self) -> None:
        assert self.process is not None
        self.process.terminate()
        self.process.wait(timeout=10)
        self.process = None


def dead_redis() -> redis.Redis:
    """A client of a Redis that is not there, failing as fast as the app's own client does."""
    return redis.Redis(
        host="127.0.0.1", port=1, socket_connect_timeout=0.2, retry=Retry(NoBackoff(), 1)
    )
