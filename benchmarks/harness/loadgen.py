"""Load generators: wrk with a replay script when installed, else an asyncio generator.

Both replay a `Workload` (a list of precomputed requests) over a fixed number of keep-alive
connections for a fixed time, and return the same `LoadResult`, so scenarios never care
which one ran. They only ever talk to 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import shutil
import subprocess
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol
from urllib.parse import urlsplit

LUA_REPLAY = Path(__file__).resolve().parent.parent / "lua" / "replay.lua"
EXHAUSTED_PATH = "/__bench_exhausted__"


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    headers: dict[str, str] = field(default_factory=dict)
    body: str | None = None


@dataclass
class Workload:
    """What to send. `reuse=False`: every request is sent at most once (writes that must be
    fresh); the list must be long enough for the run, else the shortfall is counted."""

    requests: list[Request]
    reuse: bool
    # Whatever the scenario needs to verify the run afterwards (e.g. the attempts it made).
    state: dict[str, object] = field(default_factory=dict)


@dataclass
class LoadResult:
    generator: str
    duration_s: float
    requests: int
    statuses: dict[int, int]
    socket_errors: dict[str, int]
    latency_ms: dict[str, float]  # mean, p50, p90, p99, p999, max
    exhausted: int = 0
    body_min: int = -1
    body_max: int = 0

    @property
    def rps(self) -> float:
        return self.requests / self.duration_s if self.duration_s else 0.0

    def unexpected(self, expected_status: int) -> int:
        """Responses with another status than the scenario expects, plus socket errors."""
        other = sum(n for code, n in self.statuses.items() if code != expected_status)
        return other + sum(self.socket_errors.values())

    def as_dict(self) -> dict[str, object]:
        return {
            "generator": self.generator,
            "duration_s": round(self.duration_s, 3),
            "requests": self.requests,
            "rps": round(self.rps, 1),
            "statuses": {str(k): v for k, v in sorted(self.statuses.items())},
            "socket_errors": self.socket_errors,
            "latency_ms": self.latency_ms,
            "exhausted": self.exhausted,
            "body_bytes": {"min": self.body_min, "max": self.body_max},
        }


class LoadGenerator(Protocol):
    name: str

    def run(
        self, base_url: str, workload: Workload, *, connections: int, duration: float
    ) -> LoadResult: ...


def _check_local(base_url: str) -> tuple[str, int]:
    parts = urlsplit(base_url)
    if parts.hostname not in ("127.0.0.1", "localhost", "::1"):
        raise ValueError(f"Load is only ever sent to this machine, not to {parts.hostname}")
    return parts.hostname, parts.port or 80


# --- wrk --------------------------------------------------------------------------------------


def write_request_file(requests: list[Request], path: Path) -> None:
    """The line format `replay.lua` reads: METHOD, PATH, HEADERS (\\x1f-joined), BODY."""
    with path.open("w", encoding="utf-8") as out:
        for r in requests:
            headers = "\x1f".join(f"{k}: {v}" for k, v in r.headers.items())
            for part in (r.method, r.path, headers, r.body or ""):
                if "\t" in part or "\n" in part:
                    raise ValueError(f"A tab or newline cannot be replayed: {part[:60]!r}")
            out.write(f"{r.method}\t{r.path}\t{headers}\t{r.body or ''}\n")


class WrkGenerator:
    name = "wrk"

    def __init__(self, threads: int = 2, timeout_s: int = 5) -> None:
        self.threads = threads
        self.timeout_s = timeout_s
        self.version = _wrk_version()

    def run(
        self, base_url: str, workload: Workload, *, connections: int, duration: float
    ) -> LoadResult:
        _check_local(base_url)
        threads = max(1, min(self.threads, connections))
        with tempfile.TemporaryDirectory(prefix="nl-bench-") as tmp:
            request_file = Path(tmp) / "requests.tsv"
            out_file = Path(tmp) / "result.json"
            requests = workload.requests
            if workload.reuse and len(requests) < threads:
                requests = requests * threads  # each thread takes every n-th line
            write_request_file(requests, request_file)
            command = [
                "wrk",
                f"-t{threads}",
                f"-c{connections}",
                f"-d{max(1, round(duration))}s",
                f"--timeout={self.timeout_s}s",
                "-s",
                str(LUA_REPLAY),
                base_url,
                "--",
                str(request_file),
                "cycle" if workload.reuse else "once",
                str(threads),
            ]
            env = {**os.environ, "BENCH_WRK_OUT": str(out_file)}
            completed = subprocess.run(
                command, env=env, capture_output=True, text=True, timeout=duration + 60
            )
            if completed.returncode != 0 or not out_file.exists():
                raise RuntimeError(
                    f"wrk failed ({completed.returncode}): {completed.stderr or completed.stdout}"
                )
            raw = json.loads(out_file.read_text())
        latency = raw["latency_us"]
        errors = {k: v for k, v in raw["errors"].items() if k != "status" and v}
        return LoadResult(
            generator=f"wrk ({self.version}, {threads} threads)",
            duration_s=raw["duration_us"] / 1e6,
            requests=raw["requests"],
            statuses={int(k): v for k, v in raw["statuses"].items()},
            socket_errors=errors,
            latency_ms={k: round(v / 1000, 2) for k, v in latency.items()},
            exhausted=raw["exhausted"],
            body_min=raw["body_min"],
            body_max=raw["body_max"],
        )


def _wrk_version() -> str:
    try:
        out = subprocess.run(["wrk", "--version"], capture_output=True, text=True, timeout=5)
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"
    first = (out.stdout or out.stderr).splitlines()
    return first[0].split(" [")[0].removeprefix("wrk ") if first else "unknown"


# --- a Python fallback --------------------------------------------------------------------------


def _raw_request(request: Request, host_header: str) -> bytes:
    body = request.body.encode() if request.body is not None else b""
    lines = [f"{request.method} {request.path} HTTP/1.1", f"Host: {host_header}"]
    lines += [f"{k}: {v}" for k, v in request.headers.items()]
    if request.body is not None:
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


class PythonGenerator:
    """One event loop, `connections` keep-alive connections, each sending its next request as
    soon as the previous answer is read (closed loop, like wrk). It competes with the server
    for the same two cores and is slower than wrk, so it understates /healthz the most."""

    name = "python"

    def run(
        self, base_url: str, workload: Workload, *, connections: int, duration: float
    ) -> LoadResult:
        host, port = _check_local(base_url)
        return asyncio.run(self._run(host, port, workload, connections, duration))

    async def _run(
        self, host: str, port: int, workload: Workload, connections: int, duration: float
    ) -> LoadResult:
        host_header = f"{host}:{port}"
        raws = [_raw_request(r, host_header) for r in workload.requests]
        source = itertools.cycle(raws) if workload.reuse and raws else iter(raws)
        spare = _raw_request(Request("GET", EXHAUSTED_PATH), host_header)
        statuses: Counter[int] = Counter()
        errors: Counter[str] = Counter()
        latencies: list[float] = []
        sizes: list[int] = []
        exhausted = 0

        async def connection() -> None:
            nonlocal exhausted
            reader: asyncio.StreamReader | None = None
            writer: asyncio.StreamWriter | None = None
            while True:
                raw = next(source, None)
                if raw is None:
                    exhausted += 1
                    raw = spare
                try:
                    if writer is None:
                        reader, writer = await asyncio.open_connection(host, port)
                    assert reader is not None
                    started = time.perf_counter()
                    writer.write(raw)
                    await writer.drain()
                    status, keep_alive, size = await _read_response(reader)
                    latencies.append(time.perf_counter() - started)
                    statuses[status] += 1
                    sizes.append(size)
                    if not keep_alive:
                        writer.close()
                        writer = None
                except (OSError, asyncio.IncompleteReadError, ValueError) as error:
                    errors[
                        "read" if isinstance(error, asyncio.IncompleteReadError) else "connect"
                    ] += 1
                    if writer is not None:
                        writer.close()
                    writer = None

        started = time.perf_counter()
        tasks = [asyncio.create_task(connection()) for _ in range(connections)]
        await asyncio.sleep(duration)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        elapsed = time.perf_counter() - started
        ordered = sorted(latencies)

        def percentile(p: float) -> float:
            if not ordered:
                return 0.0
            return round(ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))] * 1000, 2)

        return LoadResult(
            generator="python asyncio",
            duration_s=elapsed,
            requests=len(latencies),
            statuses=dict(statuses),
            socket_errors=dict(errors),
            latency_ms={
                "mean": round(sum(ordered) / len(ordered) * 1000, 2) if ordered else 0.0,
                "max": round(ordered[-1] * 1000, 2) if ordered else 0.0,
                "p50": percentile(50),
                "p90": percentile(90),
                "p99": percentile(99),
                "p999": percentile(99.9),
            },
            exhausted=exhausted,
            body_min=min(sizes) if sizes else -1,
            body_max=max(sizes) if sizes else 0,
        )


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, bool, int]:
    """Read one HTTP/1.1 response: (status, keep-alive, body length)."""
    status_line = await reader.readuntil(b"\r\n")
    parts = status_line.split(b" ", 2)
    status = int(parts[1])
    headers: dict[bytes, bytes] = {}
    while True:
        line = await reader.readuntil(b"\r\n")
        if line == b"\r\n":
            break
        name, _, value = line.partition(b":")
        headers[name.strip().lower()] = value.strip()
    keep_alive = headers.get(b"connection", b"").lower() != b"close"
    size = 0
    if headers.get(b"transfer-encoding", b"").lower() == b"chunked":
        while True:
            chunk = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
            await reader.readexactly(chunk + 2)
            size += chunk
            if chunk == 0:
                break
    elif status not in (204, 304) and b"content-length" in headers:
        size = int(headers[b"content-length"])
        await reader.readexactly(size)
    elif status not in (204, 304):
        # No length: the body runs to the end of the connection.
        size = len(await reader.read())
        keep_alive = False
    return status, keep_alive, size


def pick_generator(preference: str, *, wrk_threads: int = 2) -> LoadGenerator:
    """`auto`: wrk when installed, else the Python generator."""
    if preference == "python":
        return PythonGenerator()
    if shutil.which("wrk"):
        return WrkGenerator(threads=wrk_threads)
    if preference == "wrk":
        raise RuntimeError("wrk is not installed (Debian: apt-get install wrk)")
    return PythonGenerator()


def combine(results: list[LoadResult]) -> LoadResult:
    """One result from consecutive slices of the same scenario: counts and time add up; p50 and
    p90 are the request-weighted means of the slices', p99 and above the worst slice's."""
    if len(results) == 1:
        return results[0]
    total = sum(r.requests for r in results) or 1
    statuses: Counter[int] = Counter()
    errors: Counter[str] = Counter()
    for r in results:
        statuses.update(r.statuses)
        errors.update(r.socket_errors)

    def weighted(key: str) -> float:
        return round(sum(r.latency_ms[key] * r.requests for r in results) / total, 2)

    def worst(key: str) -> float:
        return max(r.latency_ms[key] for r in results)

    bodies = [r.body_min for r in results if r.body_min >= 0]
    return LoadResult(
        generator=results[0].generator,
        duration_s=sum(r.duration_s for r in results),
        requests=sum(r.requests for r in results),
        statuses=dict(statuses),
        socket_errors=dict(errors),
        latency_ms={
            "mean": weighted("mean"),
            "p50": weighted("p50"),
            "p90": weighted("p90"),
            "p99": worst("p99"),
            "p999": worst("p999"),
            "max": worst("max"),
        },
        exhausted=sum(r.exhausted for r in results),
        body_min=min(bodies) if bodies else -1,
        body_max=max(r.body_max for r in results),
    )
