"""Where the CPU went during a run: the app's workers, PostgreSQL, Redis, the load generator,
and everything else on the machine (other people's test runs on a shared box; PostgreSQL
counts every backend of the server, other people's included).

Read from /proc, so Linux only; elsewhere the breakdown is simply empty.
"""

from __future__ import annotations

import os
import resource
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
GROUPS_BY_NAME = {"postgres": "postgres", "redis-server": "redis"}


def _process_seconds(pid: int) -> tuple[str, float] | None:
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The name is in parentheses and may hold spaces; the fields after it are fixed.
    name = raw[raw.index("(") + 1 : raw.rindex(")")]
    fields = raw[raw.rindex(")") + 2 :].split()
    return name, (int(fields[11]) + int(fields[12])) / TICKS  # utime + stime


def _machine_seconds() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine since boot."""
    try:
        first = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    except OSError:
        return 0.0, 0.0
    values = [int(v) for v in first]
    idle = values[3] + (values[4] if len(values) > 4 else 0)
    total = sum(values[:8])
    return (total - idle) / TICKS, total / TICKS


@dataclass
class Snapshot:
    wall: float
    groups: dict[str, float]
    busy: float
    total: float


def snapshot(app_pids: Iterable[int]) -> Snapshot:
    # The load generator is this process or a child it has waited for (wrk): rusage sees both.
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    loadgen = own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime
    groups: dict[str, float] = {"app": 0.0, "postgres": 0.0, "redis": 0.0, "loadgen": loadgen}
    app = set(app_pids)
    try:
        pids = [int(p) for p in os.listdir("/proc") if p.isdigit()]
    except OSError:
        pids = []
    for pid in pids:
        found = _process_seconds(pid)
        if found is None:
            continue
        name, seconds = found
        if pid in app:
            groups["app"] += seconds
        elif name in GROUPS_BY_NAME:
            groups[GROUPS_BY_NAME[name]] += seconds
    busy, total = _machine_seconds()
    return Snapshot(time.monotonic(), groups, busy, total)


def cores_used(before: Snapshot, after: Snapshot) -> dict[str, float]:
    """Average cores each group kept busy between two snapshots (processes that started or
    ended in between count only for the part both snapshots saw)."""
    wall = after.wall - before.wall
    if wall <= 0 or after.total <= before.total:
        return {}
    used = {
        group: round(max(0.0, after.groups[group] - before.groups.get(group, 0.0)) / wall, 2)
        for group in after.groups
    }
    machine = (after.busy - before.busy) / wall
    used["machine"] = round(machine, 2)
    used["other"] = round(max(0.0, machine - sum(v for k, v in used.items() if k != "machine")), 2)
    return used
