"""Redis clients from URLs: one server, a Sentinel-managed primary, or a Redis Cluster.

`REDIS_URL` (boards, rate limits, cache invalidation) may be any of:
- `redis://host:port/db`, `rediss://...`, `unix:///path/redis.sock` — one server;
- `redis+sentinel://[:password@]host:port,host:port/service-name[/db]` — the primary that the
  Sentinels name, found again after a failover;
- `redis+cluster://[:password@]host:port,host:port` — a Redis Cluster (every key the app
  writes carries its organisation as a `{hash tag}`, so each script and transaction stays in
  one slot).
RQ does not support Redis Cluster: the job queue has its own `QUEUE_REDIS_URL` (one server or
Sentinel), defaulting to `REDIS_URL`.
"""

from __future__ import annotations

from typing import Any, cast
from urllib.parse import quote, unquote, urlsplit

import redis
from redis.backoff import NoBackoff
from redis.cluster import ClusterNode, RedisCluster
from redis.retry import Retry
from redis.sentinel import Sentinel

SENTINEL_SCHEME = "redis+sentinel"
CLUSTER_SCHEME = "redis+cluster"


def client_options() -> dict[str, Any]:
    """Short timeouts on purpose: with Redis down, requests carry on without it."""
    return {
        "socket_timeout": 1.0,
        "socket_connect_timeout": 1.0,
        # One immediate retry (a connection reset by a Redis restart), no backoff: redis-py's
        # default backs off for seconds, holding every request up while Redis is down.
        "retry": Retry(NoBackoff(), 1),
    }


def redis_from_url(url: str, **options: Any) -> redis.Redis:
    """A client for any URL the module docstring lists."""
    parts = urlsplit(url)
    if parts.scheme == CLUSTER_SCHEME:
        nodes = [ClusterNode(host, port) for host, port in _locations(parts.netloc)]
        cluster: RedisCluster = RedisCluster(
            startup_nodes=nodes, password=_password(parts.netloc), **options
        )
        # RedisCluster answers the same commands as Redis for keys in one slot, which is all
        # the app sends it; the rest of the code is typed against the one-server client.
        return cast(redis.Redis, cluster)
    if parts.scheme == SENTINEL_SCHEME:
        path = [segment for segment in parts.path.split("/") if segment]
        if not path:
            raise ValueError(f"{SENTINEL_SCHEME} URL needs a service name: {url!r}")
        service, db = path[0], int(path[1]) if len(path) > 1 else 0
        password = _password(parts.netloc)
        sentinel = Sentinel(
            _locations(parts.netloc),
            sentinel_kwargs={
                "socket_timeout": options.get("socket_timeout", 1.0),
                "socket_connect_timeout": options.get("socket_connect_timeout", 1.0),
            },
            **options,
        )
        return sentinel.master_for(service, db=db, password=password)
    return redis.Redis.from_url(url, **options)


def is_cluster_url(url: str) -> bool:
    return urlsplit(url).scheme == CLUSTER_SCHEME


def is_cluster(client: object) -> bool:
    return isinstance(client, RedisCluster)


def cluster_storage_uri(client: object) -> str:
    """`limits`' URI for the cluster `client` talks to (its storage makes its own client)."""
    cluster = cast(RedisCluster, client)
    hosts = ",".join(f"{node.host}:{node.port}" for node in cluster.get_primaries())
    password = cluster.nodes_manager.connection_kwargs.get("password")
    credentials = f":{quote(password, safe='')}@" if password else ""
    return f"{CLUSTER_SCHEME}://{credentials}{hosts}"


def _locations(netloc: str) -> list[tuple[str, int]]:
    hosts = netloc.rpartition("@")[2]
    locations = []
    for host in hosts.split(","):
        name, _, port = host.rpartition(":")
        locations.append((name or "127.0.0.1", int(port or 6379)))
    return locations


def _password(netloc: str) -> str | None:
    credentials, at, _ = netloc.rpartition("@")
    if not at:
        return None
    password = credentials.partition(":")[2]
    return unquote(password) or None
