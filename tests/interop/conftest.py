"""A real LRS for the xAPI tests: Ralph, started on a free local port, stopped at the end."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import bcrypt
import pytest
import requests

LRS_USER = "nanolearn"
LRS_PASSWORD = "lrs-secret-passw0rd"
HERE = Path(__file__).parent


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Ralph:
    """A Ralph LRS process with its file-system store, which can be stopped and started."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None
        auth = [
            {
                "agent": {"mbox": "mailto:nanolearn@example.org"},
                "scopes": ["all"],
                "username": LRS_USER,
                "hash": bcrypt.hashpw(LRS_PASSWORD.encode(), bcrypt.gensalt(4)).decode(),
            }
        ]
        (directory / "auth.json").write_text(json.dumps(auth))

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}/xAPI/"

    def start(self) -> None:
        env = {
            **os.environ,
            "RALPH_APP_DIR": str(self.directory),
            "RALPH_AUTH_FILE": str(self.directory / "auth.json"),
            "RALPH_RUNSERVER_BACKEND": "fs",
            "RALPH_BACKENDS__LRS__FS__DEFAULT_DIRECTORY_PATH": str(self.directory / "store"),
        }
        (self.directory / "store").mkdir(exist_ok=True)
        self.process = subprocess.Popen(
            [sys.executable, str(HERE / "ralph_server.py"), str(self.port)],
            env=env,
            cwd=self.directory,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if requests.get(f"http://127.0.0.1:{self.port}/__lbheartbeat__", timeout=1).ok:
                    return
            except requests.RequestException:
                pass
            if self.process.poll() is not None:
                raise RuntimeError("Ralph exited at start")
            time.sleep(0.2)
        raise RuntimeError("Ralph did not start")

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=20)
            self.process = None

    def stored(self) -> list[dict[str, Any]]:
        """Every statement the LRS wrote to its store, in the order it stored them."""
        found: list[dict[str, Any]] = []
        for path in sorted((self.directory / "store").glob("*")):
            for line in path.read_text().splitlines():
                if line.strip():
                    found.append(json.loads(line))
        return found

    def stored_for(self, user_id: str) -> list[dict[str, Any]]:
        return [s for s in self.stored() if s["actor"]["account"]["name"] == user_id]


@pytest.fixture(scope="session")
def ralph(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Ralph]:
    lrs = Ralph(tmp_path_factory.mktemp("ralph"))
    lrs.start()
    yield lrs
    lrs.stop()


@pytest.fixture
def lrs(ralph: Ralph) -> Iterator[Ralph]:
    """Ralph, running (a test may stop it; it is started again afterwards)."""
    if ralph.process is None:
        ralph.start()
    yield ralph
    if ralph.process is None:
        ralph.start()
