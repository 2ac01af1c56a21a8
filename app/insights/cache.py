"""The insights' adapter to Redis: managers' figures computed a few seconds ago, shared by every
process, so that a dashboard read costs one round trip instead of a recomputation.

Keys: `nl:{<org_id>}:insights:<kind>:<department_id>:<week>` with kind `summary`, `children`
or `members`; the value is JSON `{"at": <unix seconds of the moment computed for>, "t": <seconds
it took>, "v": <a version>, "data": ...}`, figures, ids and names only (no text in a language).
`<key>:refresh` is the single-flight claim of the process recomputing it. What may be served,
and for how long, is decided in `rules.cache_use` and `kept.figures`.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from typing import Any

import orjson
import redis


def key(org_id: str, kind: str, department_id: str, week: str) -> str:
    return f"nl:{{{org_id}}}:insights:{kind}:{department_id}:{week}"


def org_pattern(org_id: str) -> str:
    return f"nl:{{{org_id}}}:insights:*"


@dataclass(frozen=True, slots=True)
class Kept:
    at: float  # the moment the figures were computed for (unix seconds)
    data: Any
    took: float = 0.0  # how long computing them took (seconds)
    # Names this computation (two may share a moment): what was rendered from it may be
    # served again for as long as it is the kept one.
    version: str = field(default_factory=lambda: secrets.token_hex(8))


def read(client: redis.Redis, cache_key: str) -> Kept | None:
    return _parse(client.get(cache_key))


def _parse(raw: bytes | None) -> Kept | None:
    if raw is None:
        return None
    value = orjson.loads(raw)
    return Kept(float(value["at"]), value["data"], float(value["t"]), str(value["v"]))


def write(client: redis.Redis, cache_key: str, kept: Kept, *, expire_seconds: int) -> None:
    """Keep the figures (Redis drops them after `expire_seconds`, long past any use) and give
    up the claim to recompute them."""
    pipe = client.pipeline(transaction=False)
    value = {"at": kept.at, "t": kept.took, "v": kept.version, "data": kept.data}
    pipe.set(cache_key, orjson.dumps(value), ex=expire_seconds)
    pipe.delete(f"{cache_key}:refresh")
    pipe.execute()


def read_with_claim(client: redis.Redis, cache_key: str) -> tuple[Kept | None, bool]:
    """The kept figures, and whether someone still holds the claim to compute them."""
    pipe = client.pipeline(transaction=False)
    pipe.get(cache_key)
    pipe.exists(f"{cache_key}:refresh")
    raw, claimed = pipe.execute()
    return _parse(raw), bool(claimed)


def claim(client: redis.Redis, cache_key: str, *, seconds: int) -> bool:
    """Whether this process is the one to recompute the figures (the claim lapses after
    `seconds`, should that process die on the way)."""
    return bool(client.set(f"{cache_key}:refresh", 1, nx=True, ex=seconds))


def forget_org(client: redis.Redis, org_id: str) -> int:
    """Drop every kept figure of an organisation (after a person's erasure: a kept members
    list holds names). Returns how many keys went."""
    keys = list(client.scan_iter(match=org_pattern(org_id), count=1000))
    for start in range(0, len(keys), 500):
        client.delete(*keys[start : start + 500])
    return len(keys)
