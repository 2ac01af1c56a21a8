"""Real Redis deployments for tests: a Redis Cluster of three primaries, and a primary with a
replica under a Sentinel. Debian's `redis-server`, on free local ports, in a temp folder."""

from __future__ import annotations

import socket
import subprocess
import time
from pathlib import Path

import redis

REDIS_SERVER = "/usr/bin/redis-server"
REDIS_CLI = "/usr/bin/redis-cli"
SERVICE = "nanolearn"


def free_port(*, with_bus: bool = False) -> int:
    """A free port; with_bus: its cluster bus port (+10000) is free too."""
    while True:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = int(probe.getsockname()[1])
        if port > 55000 and with_bus:
            continue
        if not with_bus:
            return port
        with socket.socket() as bus:
            try:
                bus.bind(("127.0.0.1", port + 10000))
            except OSError:
                continue
        return port


def wait_until(check, *, seconds: float = 30, what: str = "") -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if check():
                return
        except redis.RedisError:
            pass
        time.sleep(0.1)
    raise TimeoutError(f"timed out waiting for {what}")


class Server:
    """One redis-server process with its own folder and arguments."""

    def __init__(self, folder: Path, port: int, *extra: str) -> None:
        self.folder = folder
        self.port = port
        self.extra = list(extra)
        self.process: subprocess.Popen[bytes] | None = None
        folder.mkdir(parents=True, exist_ok=True)

    def start(self) -> None:
        args = [REDIS_SERVER, "--port", str(self.port), "--bind", "127.0.0.1"]
        args += ["--dir", str(self.folder), "--save", "", "--appendonly", "no", *self.extra]
        log = open(self.folder / "server.log", "ab")  # noqa: SIM115 (kept by the process)
        self.process = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT)
        wait_until(self.client().ping, what=f"redis-server on {self.port}")

    def stop(self) -> None:
        if self.process is None:
            return
        self.process.terminate()
        self.process.wait(timeout=15)
        self.process = None

    def client(self) -> redis.Redis:
        return redis.Redis(port=self.port, socket_timeout=2, socket_connect_timeout=1)


class ClusterOfThree:
    """Three primaries, no replicas: `redis-cli --cluster create` shares out the slots."""

    def __init__(self, folder: Path) -> None:
        self.nodes = []
        for index in range(3):
            port = free_port(with_bus=True)
            self.nodes.append(
                Server(
                    folder / f"node{index}",
                    port,
                    "--cluster-enabled",
                    "yes",
                    "--cluster-config-file",
                    "nodes.conf",
                    "--cluster-node-timeout",
                    "2000",
                    # A node restart must not take the whole cluster down with it: the other
                    # primaries keep serving their slots meanwhile.
                    "--cluster-require-full-coverage",
                    "no",
                )
            )

    @property
    def url(self) -> str:
        return "redis+cluster://" + ",".join(f"127.0.0.1:{node.port}" for node in self.nodes)

    def start(self) -> None:
        for node in self.nodes:
            node.start()
        subprocess.run(
            [REDIS_CLI, "--cluster", "create"]
            + [f"127.0.0.1:{node.port}" for node in self.nodes]
            + ["--cluster-replicas", "0", "--cluster-yes"],
            check=True,
            capture_output=True,
            timeout=60,
        )
        self.wait_healthy()

    def wait_healthy(self) -> None:
        for node in self.nodes:
            wait_until(
                lambda node=node: (
                    b"cluster_state:ok" in node.client().execute_command("CLUSTER", "INFO")
                ),
                what=f"cluster state ok on {node.port}",
            )

    def node_serving(self, key: str) -> Server:
        """The primary that holds `key`'s slot."""
        slot = int(self.nodes[0].client().execute_command("CLUSTER", "KEYSLOT", key))
        for start, end, (_host, port, *_rest), *_replicas in (
            self.nodes[0].client().execute_command("CLUSTER", "SLOTS")
        ):
            if start <= slot <= end:
                return next(node for node in self.nodes if node.port == int(port))
        raise LookupError(slot)

    def stop(self) -> None:
        for node in self.nodes:
            node.stop()


class SentinelPair:
    """A primary, its replica, and one Sentinel watching them (quorum 1)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        first, second = free_port(), free_port()
        self.servers = [
            Server(folder / "a", first),
            Server(folder / "b", second, "--replicaof", "127.0.0.1", str(first)),
        ]
        self.sentinel_port = free_port()
        self.sentinel: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis+sentinel://127.0.0.1:{self.sentinel_port}/{SERVICE}/0"

    def start(self) -> None:
        for server in self.servers:
            server.start()
        primary = self.servers[0].port
        conf = self.folder / "sentinel.conf"
        conf.write_text(
            f"port {self.sentinel_port}\nbind 127.0.0.1\ndir {self.folder}\n"
            f"sentinel monitor {SERVICE} 127.0.0.1 {primary} 1\n"
            f"sentinel down-after-milliseconds {SERVICE} 1000\n"
            f"sentinel failover-timeout {SERVICE} 10000\n"
        )
        log = open(self.folder / "sentinel.log", "ab")  # noqa: SIM115 (kept by the process)
        self.sentinel = subprocess.Popen(
            [REDIS_SERVER, str(conf), "--sentinel"], stdout=log, stderr=subprocess.STDOUT
        )
        wait_until(lambda: self.primary_port() == primary, what="the sentinel to see the primary")
        wait_until(self._replica_in_sync, what="the replica to sync")

    def sentinel_client(self) -> redis.Redis:
        return redis.Redis(port=self.sentinel_port, socket_timeout=2, socket_connect_timeout=1)

    def primary_port(self) -> int:
        _host, port = self.sentinel_client().execute_command(
            "SENTINEL", "GET-MASTER-ADDR-BY-NAME", SERVICE
        )
        return int(port)

    def _replica_in_sync(self) -> bool:
        replicas = self.sentinel_client().sentinel_slaves(SERVICE)
        return bool(replicas) and all(
            replica["master-link-status"] == "ok" and not replica["is_sdown"]
            for replica in replicas
        )

    def fail_over(self) -> int:
        """Ask the Sentinel to promote the replica; the new primary's port once it serves."""
        old = self.primary_port()
        self.sentinel_client().execute_command("SENTINEL", "FAILOVER", SERVICE)
        wait_until(lambda: self.primary_port() != old, what="the failover")
        new = self.primary_port()
        server = next(s for s in self.servers if s.port == new)
        wait_until(
            lambda: server.client().info("replication")["role"] == "master",
            what="the new primary to take writes",
        )
        return new

    def stop(self) -> None:
        if self.sentinel is not None:
            self.sentinel.terminate()
            self.sentinel.wait(timeout=15)
            self.sentinel = None
        for server in self.servers:
            server.stop()
