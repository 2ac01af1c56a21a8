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
    processes: dict[int, tuple[str, float]]  # pid -> (group, CPU seconds so far)
    loadgen: float
    busy: float
    total: float


def snapshot(app_pids: Iterable[int]) -> Snapshot:
    # The load generator is this process or a child it has waited for (wrk): rusage sees both.
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    loadgen = own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime
    processes: dict[int, tuple[str, float]] = {}
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
            processes[pid] = ("app", seconds)
        elif name in GROUPS_BY_NAME:
            processes[pid] = (GROUPS_BY_NAME[name], seconds)
    busy, total = _machine_seconds()
    return Snapshot(time.monotonic(), processes, loadgen, busy, total)


def cores_used(before: Snapshot, after: Snapshot) -> dict[str, float]:
    """Average cores each group kept busy between two snapshots (a process that ended in
    between is missed; one that started counts in full)."""
    wall = after.wall - before.wall
    if wall <= 0 or after.total <= before.total:
        return {}
    # Per process: backends of other people's tests come and go between the snapshots.
    seconds = {"app": 0.0, "postgres": 0.0, "redis": 0.0}
    for pid, (group, spent) in after.processes.items():
        earlier = before.processes.get(pid)
        seconds[group] += spent - (earlier[1] if earlier and earlier[0] == group else 0.0)
    seconds["loadgen"] = after.loadgen - before.loadgen
    used = {group: round(max(0.0, value) / wall, 2) for group, value in seconds.items()}
    machine = (after.busy - before.busy) / wall
    used["machine"] = round(machine, 2)
    used["other"] = round(max(0.0, machine - sum(v for k, v in used.items() if k != "machine")), 2)
    return used


def seconds_of(pids: Iterable[int]) -> float:
    """CPU seconds (user + system) these processes have spent so far."""
    total = 0.0
    for pid in pids:
        found = _process_seconds(pid)
        if found is not None:
            total += found[1]
    return total
