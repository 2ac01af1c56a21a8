"""The insights' adapter to Redis: managers' figures computed a few seconds ago, shared by every
process, so that a dashboard read costs one round trip instead of a recomputation.

Keys: `nl:{<org_id>}:insights:<kind>:<department_id>:<week>` with kind `summary`, `children`
or `members`; the value is a line of JSON `{"at": <unix seconds of the moment computed for>,
"t": <seconds it took>, "v": <a version>}`, a newline, and the figures as JSON (ids and names
only, no text in a language). The figures are parsed only when used: a page of a members list
already rendered for that version needs only the first line.
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


@dataclass
class Kept:
    at: float  # the moment the figures were computed for (unix seconds)
    data_json: bytes  # the figures as JSON (parsed when `data` is first read)
    took: float = 0.0  # how long computing them took (seconds)
    # Names this computation (two may share a moment): what was rendered from it may be
    # served again for as long as it is the kept one.
    version: str = field(default_factory=lambda: secrets.token_hex(8))
    _data: Any = field(default=None, init=False, repr=False)
    _parsed: bool = field(default=False, init=False, repr=False)

    @classmethod
    def of(cls, at: float, data: Any, took: float) -> Kept:
        """Figures just computed."""
        kept = cls(at, orjson.dumps(data), took)
        kept._data, kept._parsed = data, True
        return kept

    @property
    def data(self) -> Any:
        if not self._parsed:
            self._data, self._parsed = orjson.loads(self.data_json), True
        return self._data


def read(client: redis.Redis, cache_key: str) -> Kept | None:
    return _parse(client.get(cache_key))


def _parse(raw: bytes | None) -> Kept | None:
    if raw is None:
        return None
    head, newline, figures = raw.partition(b"\n")
    if not newline:
        return None  # written by an earlier version of this code: computed anew
    meta = orjson.loads(head)
    return Kept(float(meta["at"]), figures, took=float(meta["t"]), version=str(meta["v"]))


def write(client: redis.Redis, cache_key: str, kept: Kept, *, expire_seconds: int) -> None:
    """Keep the figures (Redis drops them after `expire_seconds`, long past any use) and give
    up the claim to recompute them."""
    pipe = client.pipeline(transaction=False)
    head = orjson.dumps({"at": kept.at, "t": kept.took, "v": kept.version})
    pipe.set(cache_key, head + b"\n" + kept.data_json, ex=expire_seconds)
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
