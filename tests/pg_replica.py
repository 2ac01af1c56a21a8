"""A real PostgreSQL primary and its streaming replica, made by the tests themselves: `initdb`
a primary, `pg_basebackup -R` a replica, both on free local ports in a temp folder."""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

DATABASE = "nanolearn"


def postgres_bin() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    return Path(found[-1]).parent if found else None


def unavailable_reason() -> str | None:
    """Why the replica tests cannot run here (None when they can)."""
    if postgres_bin() is None:
        return "PostgreSQL's server binaries (initdb, pg_ctl, pg_basebackup) are not installed"
    if os.geteuid() == 0 and shutil.which("runuser") is None:
        return "running as root without runuser to start PostgreSQL as its own user"
    return None


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class StreamingReplica:
    def __init__(self) -> None:
        # Its own folder directly under /tmp: PostgreSQL's user must reach it, and pytest's
        # temp folders are private to root.
        self.folder = Path(tempfile.mkdtemp(prefix="nanolearn-pg-"))
        self.bin = postgres_bin()
        self.primary_port = _free_port()
        self.replica_port = _free_port()

    def _run(self, *args: str) -> None:
        command = [str(self.bin / args[0]) if self.bin else args[0], *args[1:]]
        if os.geteuid() == 0:  # PostgreSQL refuses to run as root
            command = ["runuser", "-u", "postgres", "--", *command]
        subprocess.run(command, check=True, capture_output=True, timeout=120, cwd="/")

    def url(self, port: int) -> str:
        return f"postgresql://postgres@127.0.0.1:{port}/{DATABASE}"

    @property
    def primary_url(self) -> str:
        return self.url(self.primary_port)

    @property
    def replica_url(self) -> str:
        return self.url(self.replica_port)

    def start(self) -> None:
        if os.geteuid() == 0:
            shutil.chown(self.folder, "postgres", "postgres")
        primary, replica = self.folder / "primary", self.folder / "replica"
        self._run(
            "initdb",
            "-D",
            str(primary),
            "-U",
            "postgres",
            "--auth=trust",
            "-E",
            "UTF8",
            "--no-sync",
        )
        self._pg_ctl(primary, self.primary_port, "-c wal_level=replica -c max_wal_senders=4")
        self._run(
            "createdb", "-h", "127.0.0.1", "-p", str(self.primary_port), "-U", "postgres", DATABASE
        )
        self._run(
            "pg_basebackup",
            *("-h", "127.0.0.1", "-p", str(self.primary_port), "-U", "postgres"),
            *("-D", str(replica), "-R", "-X", "stream", "--checkpoint=fast", "--no-sync"),
        )
        self._pg_ctl(replica, self.replica_port, "-c hot_standby=on")

    def _pg_ctl(self, data: Path, port: int, options: str) -> None:
        self._run(
            "pg_ctl",
            *("-D", str(data), "-l", str(data / "server.log"), "-w"),
            "-o",
            f"-p {port} -c listen_addresses=127.0.0.1 -k {self.folder} -c fsync=off {options}",
            "start",
        )

    def stop(self) -> None:
        for name in ("replica", "primary"):
            data = self.folder / name
            if (data / "postmaster.pid").exists():
                self._run("pg_ctl", "-D", str(data), "-m", "fast", "-w", "stop")
        shutil.rmtree(self.folder, ignore_errors=True)
