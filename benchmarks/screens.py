"""Store screens: what 500 TVs cost the API, measured in one run.

    make bench-screens
    .venv/bin/python benchmarks/screens.py --tvs 500 --pairs 3 --duration 10
    .venv/bin/python benchmarks/screens.py --transport poll     # the design before

Seeds like `run.py` (one organisation, `--departments` departments, `--learners` learners,
the shipped content, this week's 3 paths for everyone, 3 points per learner), makes `--tvs`
screens spread over the stores that have people, starts gunicorn for the API (2 sync
workers, production settings) and then measures the API under `wrk` at 16 connections (an
API scenario of `run.py`, `answer` by default: every answer pays points, so the TVs of the
answering learners' stores see changes and their screens are rendered anew) in alternating
slices, without and with the TVs:

- `--transport sse` (the default, as `screen.js`): a screens process of its own (gunicorn,
  one `gthread` worker with a thread per TV and some to spare, `SCREEN_STREAMS_MAX` above
  the TVs), as the README's deployment has it; with TVs, every TV holds its
  `/screens/<secret>/events` stream open there (`benchmarks/harness/tvstream.py`, a process
  of its own: non-blocking sockets on the event loop's callbacks); without, none is
  connected (after closing them the run waits until the screens process has noticed: 3 s).
  Prints the API's req/s with TVs as a share of without, the screen events a
  second and their bytes, the screens process's CPU, the TV clients' CPU, the delay from a
  rendering to its event and the time between a TV's events;
- `--transport poll`: every TV polls its `/screens/<secret>/live` on the API's workers every
  `--poll` seconds (default 5) with the ETag it last got in `If-None-Match`, each on a new
  connection (gunicorn's sync workers close after each answer), started at random offsets as
  TVs switched on through the day would be (`benchmarks/harness/tvpoll.py`). Prints the share
  of 200 (rendered) and 304 answers and the app's CPU per poll as well.

Slices run in ABBA order (without, with, with, without, ...), so a drift in the machine's
background load hits both sides alike. The issue's target: with TVs, at least 95 % of the
API's throughput without. The TV clients run in a process of their own and report their own
CPU time: in a store they would not share the server's cores, and here they do.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import statistics
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
WORK = ROOT / "benchmarks" / ".work"
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks.harness import cpu  # noqa: E402
from benchmarks.harness.database import (  # noqa: E402
    BenchDatabase,
    default_database_name,
    reset_redis,
)
from benchmarks.harness.loadgen import LoadResult, combine, pick_generator  # noqa: E402
from benchmarks.harness.scenarios import SCENARIOS, Bench  # noqa: E402
from benchmarks.harness.seed import seed  # noqa: E402
from benchmarks.harness.server import GunicornServer, ServerConfig  # noqa: E402


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add = parser.add_argument
    add("--tvs", type=int, default=500)
    add(
        "--transport",
        choices=("sse", "poll"),
        default="sse",
        help="sse: TVs hold event streams to a screens process of its own (as screen.js "
        "does); poll: TVs poll /live on the API's workers (the design before)",
    )
    add("--poll", type=float, default=5.0, help="seconds between a TV's polls (screen.js: 5)")
    add("--api-scenario", default="answer", choices=sorted(set(SCENARIOS) - {"healthz"}))
    add("--pairs", type=int, default=3, help="ABBA pairs of slices (without, with)")
    add("--duration", type=float, default=10, help="seconds per slice")
    add("--warmup", type=float, default=8, help="seconds of TVs and API load before measuring")
    add("--connections", type=int, default=16)
    add("--learners", type=int, default=3000)
    add("--active-learners", type=int, default=1000)
    add("--departments", type=int, default=500)
    add("--workers", type=int, default=2)
    add("--loadgen", choices=("auto", "wrk", "python"), default="auto")
    add(
        "--pg-admin-url",
        default=os.environ.get("BENCH_PG_ADMIN_URL", "postgresql://root@127.0.0.1:5432/postgres"),
    )
    add("--redis-url", default=os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/10"))
    add("--results", type=Path, default=ROOT / "benchmarks" / "results")
    add("--no-write", action="store_true")
    add("--keep", action="store_true")
    return parser.parse_args(argv)


# --- the TVs ------------------------------------------------------------------------------------


@dataclass
class TvStats:
    statuses: Counter[int] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)
    latencies_ms: list[float] = field(default_factory=list)
    cpu_seconds: float = 0.0  # the pollers' own CPU time over the slice
    seconds: float = 0.0  # wall time the slice's polls were counted over

    def requests(self) -> int:
        return sum(self.statuses.values())


class _TvProcess:
    """TVs in a process of their own (so that its CPU time is its own, measured and reported
    apart), run as `python -m <module> <args...> <paths file>` and driven over its stdin: `on`,
    `off`, `stats` (each answered with a line of JSON) and `quit`."""

    def __init__(self, module: str, args: list[str], paths: list[str], name: str) -> None:
        WORK.mkdir(parents=True, exist_ok=True)
        self._paths_file = WORK / f"{name}-{os.getpid()}.txt"
        self._paths_file.write_text("\n".join(paths) + "\n")
        self._args = [sys.executable, "-m", module, *args, str(self._paths_file)]
        self._process: subprocess.Popen[str] | None = None
        self._cpu_before = 0.0
        self._taken_at = time.monotonic()

    def start(self) -> None:
        self._process = subprocess.Popen(
            self._args, cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )

    def _ask(self, command: str) -> dict[str, Any]:
        assert self._process is not None and self._process.stdin and self._process.stdout
        self._process.stdin.write(command + "\n")
        self._process.stdin.flush()
        answer: dict[str, Any] = json.loads(self._process.stdout.readline())
        return answer

    def _since_last(self, raw: dict[str, Any]) -> tuple[float, float]:
        """The TVs' CPU seconds and the wall seconds since the stats were last taken."""
        cpu, now = float(raw["cpu_seconds"]), time.monotonic()
        taken = (cpu - self._cpu_before, now - self._taken_at)
        self._cpu_before, self._taken_at = cpu, now
        return taken

    def resume(self) -> None:
        self._ask("on")

    def pause(self) -> None:
        self._ask("off")

    def stop(self) -> None:
        if self._process is not None:
            try:
                assert self._process.stdin is not None
                self._process.stdin.write("quit\n")
                self._process.stdin.flush()
                self._process.wait(timeout=30)
            except (OSError, subprocess.TimeoutExpired):
                self._process.kill()
                self._process.wait()
        self._paths_file.unlink(missing_ok=True)


class Tvs(_TvProcess):
    """`count` TVs polling their screens: `benchmarks/harness/tvpoll.py`. They poll only while
    on (`pause` waits for the polls under way to be answered); each keeps the ETag it last
    got, as the page does, and its own phase while paused."""

    def __init__(self, host: str, port: int, paths: list[str], poll: float) -> None:
        super().__init__(
            "benchmarks.harness.tvpoll", [host, str(port), repr(poll)], paths, "tv-paths"
        )

    def take_stats(self) -> TvStats:
        raw = self._ask("stats")
        cpu_seconds, seconds = self._since_last(raw)
        return TvStats(
            Counter({int(k): v for k, v in raw["statuses"].items()}),
            Counter(raw["errors"]),
            list(raw["latencies_ms"]),
            cpu_seconds,
            seconds,
        )


@dataclass
class StreamStats:
    statuses: Counter[int] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)
    kinds: Counter[str] = field(default_factory=Counter)  # screen, ping, retry, stopped
    bytes: int = 0
    ended_by_server: int = 0
    delays_ms: list[float] = field(default_factory=list)  # a change's rendering to its event
    gaps_s: list[float] = field(default_factory=list)  # between a TV's events
    open: int = 0
    cpu_seconds: float = 0.0
    seconds: float = 0.0


class TvStreams(_TvProcess):
    """`count` TVs holding their screens' event streams: `benchmarks/harness/tvstream.py`.
    `resume` opens every stream (and returns once each has its answer's head), `pause` closes
    them all: without TVs is without any connection."""

    def __init__(self, host: str, port: int, paths: list[str]) -> None:
        super().__init__("benchmarks.harness.tvstream", [host, str(port)], paths, "tv-streams")

    def take_stats(self) -> StreamStats:
        raw = self._ask("stats")
        cpu_seconds, seconds = self._since_last(raw)
        return StreamStats(
            Counter({int(k): v for k, v in raw["statuses"].items()}),
            Counter(raw["errors"]),
            Counter(raw["kinds"]),
            int(raw["bytes"]),
            int(raw["ended_by_server"]),
            list(raw["delays_ms"]),
            list(raw["gaps_s"]),
            int(raw["open"]),
            cpu_seconds,
            seconds,
        )


def _prepare_api(args: argparse.Namespace, data: Any, engine: Any, base_url: str) -> Any:
    """The API's side of a run, for either transport: boards with points and this week's
    paths (so that a screen shows, and renders, what a store's would), the API scenario
    prepared, and the learners' logins cached. Returns (bench, scenario)."""
    bench = Bench(
        seed=data,
        engine=engine,
        base_url=base_url,
        connections=args.connections,
        extra={"redis_url": args.redis_url, "points_per_learner": 3},
        active_learners=args.active_learners,
    )
    SCENARIOS["leaderboard-users"]().prepare(bench)
    SCENARIOS["paths-current"]().prepare(bench)
    scenario = SCENARIOS[args.api_scenario]()
    scenario.prepare(bench)
    bench.prime_logins(2)
    return bench, scenario


def make_screens(engine: object, count: int) -> list[str]:
    """`count` screens over the departments that have learners (round robin); their paths."""
    from sqlalchemy import func, select
    from sqlalchemy.orm import Session

    from app.orgs.models import User
    from app.screens import rules
    from app.screens.models import Screen

    paths = []
    with Session(engine) as session:  # type: ignore[call-overload]
        departments = [
            (org_id, department_id)
            for org_id, department_id, _ in session.execute(
                select(User.org_id, User.department_id, func.count())
                .where(User.department_id.is_not(None))
                .group_by(User.org_id, User.department_id)
                .order_by(User.department_id)
            )
        ]
        for n in range(count):
            org_id, department_id = departments[n % len(departments)]
            token = secrets.token_urlsafe(rules.TOKEN_BYTES)
            session.add(
                Screen(
                    org_id=org_id,
                    department_id=department_id,
                    name=f"TV {n + 1}",
                    token_hash=rules.hash_token(token),
                )
            )
            paths.append(f"/screens/{token}")
        session.commit()
    return paths


# --- the run ------------------------------------------------------------------------------------


@dataclass
class Measured:
    kind: str  # "without" | "with" | "TVs alone"
    api: LoadResult
    tv: TvStats
    cores: dict[str, float]
    wall: float = 0.0


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    from benchmarks import run

    stamp = datetime.now(UTC)
    secret_key = secrets.token_urlsafe(48)
    database = BenchDatabase(args.pg_admin_url, default_database_name())
    run_args = run.parse_args(["--redis-url", args.redis_url, "--departments", "40"])
    env = run.server_env(run_args, database.url, secret_key)
    os.environ.update({k: env[k] for k in run._APP_KEYS})
    from app.db import make_engine

    regions = 20 if args.departments >= 40 else 1
    generator = pick_generator(args.loadgen, wrk_threads=2)
    config = ServerConfig(workers=args.workers)
    log_path = WORK / f"gunicorn-screens-{stamp:%Y%m%dT%H%M%S}.log"
    database.create()
    engine = make_engine(database.url)
    measured: list[Measured] = []
    tv_first = TvStats()
    alone: Measured | None = None
    healthz_alone: Measured | None = None
    try:
        database.migrate(engine)
        reset_redis(args.redis_url)
        data = seed(
            engine,
            learners=args.learners,
            regions=regions,
            stores_per_region=max(1, args.departments // regions - 1),
            content_dir=ROOT / "content",
            media_dir=WORK / "media",
            secret_key=secret_key,
            token_lifetime=timedelta(hours=2),
        )
        screen_paths = make_screens(engine, args.tvs)
        print(
            f"seeded {len(data.learners)} learners in {data.department_count} departments, "
            f"{len(screen_paths)} screens; load generator {generator.name}",
            flush=True,
        )
        if args.transport == "sse":
            return _run_sse(args, stamp, env, config, log_path, data, engine, screen_paths)
        with GunicornServer(root=ROOT, env=env, config=config, log_path=log_path) as server:
            bench, scenario = _prepare_api(args, data, engine, server.base_url)
            tvs = Tvs("127.0.0.1", server.port, screen_paths, args.poll)
            tvs.start()
            # The TVs alone, nothing changing: every TV opens its screen (a 200), then what a
            # quiet poll (a 304) costs the app is measured directly; and, for scale, the
            # cheapest request the app has (`GET /healthz`) sent at the same rhythm.
            tvs.resume()
            time.sleep(args.poll + 1)
            alone = _alone("TVs alone", tvs, server, args.duration)
            healthz = Tvs("127.0.0.1", server.port, ["/healthz?tv="] * len(screen_paths), args.poll)
            healthz.start()
            healthz.resume()
            healthz_alone = _alone("/healthz at the TVs' rhythm", healthz, server, args.duration)
            healthz.stop()
            # Warm-up: the API runs with the TVs, so that both sides start from a steady state.
            tvs.resume()
            warm = scenario.workload(bench, run._budget(800, args.warmup))
            warmed = generator.run(
                server.base_url, warm, connections=args.connections, duration=args.warmup
            )
            run._settle(warmed)
            time.sleep(max(0.0, args.poll - args.warmup) + 1)
            tvs.pause()
            tv_first = tvs.take_stats()
            order: list[str] = []
            for _ in range(args.pairs):
                order += ["without", "with"] if len(order) % 4 == 0 else ["with", "without"]
            for kind in order:
                if kind == "with":
                    tvs.resume()
                    # One poll interval before the API is measured: every TV takes what
                    # changed while it was paused (a 200 each), so that the slice sees the
                    # steady state, not the catching up.
                    time.sleep(args.poll)
                tvs.take_stats()
                workload = scenario.workload(bench, run._budget(800, args.duration))
                before = cpu.snapshot(server.worker_pids())
                result = generator.run(
                    server.base_url, workload, connections=args.connections,
                    duration=args.duration,
                )  # fmt: skip
                after = cpu.snapshot(server.worker_pids())
                tvs.pause()
                tv = tvs.take_stats()
                problems = scenario.verify(bench, workload, result)
                if problems:
                    print(f"  {kind}: PROBLEMS {problems}")
                measured.append(Measured(kind, result, tv, cpu.cores_used(before, after)))
                _print_slice(measured[-1])
                run._settle(result)
            tvs.stop()
    finally:
        engine.dispose()
        if args.keep:
            print(f"kept database {database.name} and {log_path}")
        else:
            database.drop()
            reset_redis(args.redis_url)
            log_path.unlink(missing_ok=True)
    return _report(args, stamp, measured, tv_first, alone, healthz_alone)


# --- server-sent events ------------------------------------------------------------------


@dataclass
class StreamSlice:
    kind: str  # "without" | "with" | "TVs alone"
    api: LoadResult
    tv: StreamStats
    cores: dict[str, float]  # the API's workers ("app") and the rest, as cpu.cores_used
    screens_cores: float  # the screens process (master and worker)
    # The screens process's worker(s) at the slice's end: resident memory and threads (a
    # `gthread` worker holds a thread per open stream).
    screens_rss_mib: float = 0.0
    screens_threads: int = 0


def _memory_and_threads(pids: list[int]) -> tuple[float, int]:
    """Resident MiB and threads of the processes, from /proc (0 where it cannot be read)."""
    rss_kib, threads = 0, 0
    for pid in pids:
        try:
            status = Path(f"/proc/{pid}/status").read_text()
        except OSError:
            continue
        for line in status.splitlines():
            if line.startswith("VmRSS:"):
                rss_kib += int(line.split()[1])
            elif line.startswith("Threads:"):
                threads += int(line.split()[1])
    return rss_kib / 1024, threads


def _run_sse(
    args: argparse.Namespace,
    stamp: datetime,
    env: dict[str, str],
    config: ServerConfig,
    log_path: Path,
    data: Any,
    engine: Any,
    screen_paths: list[str],
) -> int:
    """The API on its sync workers; the TVs' streams on a screens process of its own
    (gunicorn, one `gthread` worker with a thread per stream and some to spare), as the
    README's deployment has it behind a load balancer that routes `/screens/` there."""
    from benchmarks import run

    generator = pick_generator(args.loadgen, wrk_threads=2)
    screens_env = {**env, "SCREEN_STREAMS_MAX": str(args.tvs + 20)}
    screens_config = ServerConfig(workers=1, worker_class="gthread", threads=args.tvs + 64)
    screens_log = log_path.with_name(log_path.stem + "-streams.log")
    measured: list[StreamSlice] = []
    with (
        GunicornServer(root=ROOT, env=env, config=config, log_path=log_path) as server,
        GunicornServer(
            root=ROOT, env=screens_env, config=screens_config, log_path=screens_log
        ) as screens,
    ):
        bench, scenario = _prepare_api(args, data, engine, server.base_url)
        screens_pids = [screens.process.pid, *screens.worker_pids()] if screens.process else []
        tvs = TvStreams("127.0.0.1", screens.port, screen_paths)
        tvs.start()
        try:
            # The TVs alone, nothing changing: every stream open and quiet (heartbeats).
            tvs.resume()
            time.sleep(2)
            opened = tvs.take_stats()
            alone = _stream_slice("TVs alone", tvs, server, screens_pids, args.duration, None)
            alone.tv.statuses += opened.statuses
            print(
                f"  TVs alone: {alone.tv.open} streams open "
                f"(answers {dict(alone.tv.statuses)}), screens process "
                f"{alone.screens_cores:.3f} cores, API workers {alone.cores.get('app', 0):.3f}",
                flush=True,
            )
            # Warm-up: the API with the TVs connected.
            warm = scenario.workload(bench, run._budget(800, args.warmup))
            run._settle(
                generator.run(
                    server.base_url, warm, connections=args.connections, duration=args.warmup
                )
            )
            _close_streams(tvs)
            tvs.take_stats()
            order: list[str] = []
            for _ in range(args.pairs):
                order += ["without", "with"] if len(order) % 4 == 0 else ["with", "without"]
            for kind in order:
                opened = StreamStats()
                if kind == "with":
                    tvs.resume()
                    time.sleep(1)  # the connections' first events are out
                    opened = tvs.take_stats()
                workload = scenario.workload(bench, run._budget(800, args.duration))
                result = _stream_slice(
                    kind, tvs, server, screens_pids, args.duration,
                    lambda w=workload: generator.run(  # type: ignore[misc]
                        server.base_url, w, connections=args.connections, duration=args.duration
                    ),
                )  # fmt: skip
                result.tv.statuses += opened.statuses
                if kind == "with":
                    _close_streams(tvs)
                problems = scenario.verify(bench, workload, result.api)
                if problems:
                    print(f"  {kind}: PROBLEMS {problems}")
                measured.append(result)
                _print_stream_slice(result)
                run._settle(result.api)
        finally:
            tvs.stop()
    return _report_sse(args, stamp, measured, alone)


def _close_streams(tvs: TvStreams) -> None:
    """Close every TV's stream, and wait until the screens process has noticed (its watcher
    looks at the streams' connections every second); until then they count against its
    cap."""
    tvs.pause()
    time.sleep(3)


def _stream_slice(
    kind: str,
    tvs: TvStreams,
    server: GunicornServer,
    screens_pids: list[int],
    seconds: float,
    load: Any,
) -> StreamSlice:
    """One measured slice: the API's load (`load()`, or a sleep without), the CPU of the
    API's workers and of the screens process, and what the TVs received meanwhile."""
    tvs.take_stats()
    before = cpu.snapshot(server.worker_pids())
    screens_before = cpu.seconds_of(screens_pids)
    if load is None:
        time.sleep(seconds)
        api = LoadResult("none", 0.0, 0, {}, {}, {})
    else:
        api = load()
    after = cpu.snapshot(server.worker_pids())
    screens_after = cpu.seconds_of(screens_pids)
    tv = tvs.take_stats()
    wall = after.wall - before.wall
    # The worker only: the master (first) holds no streams.
    rss_mib, threads = _memory_and_threads(screens_pids[1:])
    return StreamSlice(
        kind,
        api,
        tv,
        cpu.cores_used(before, after),
        (screens_after - screens_before) / wall,
        rss_mib,
        threads,
    )


def _print_stream_slice(m: StreamSlice) -> None:
    tv = m.tv
    seconds = max(tv.seconds, 1e-9)
    print(
        f"  {m.kind:<8} API {m.api.rps:7.1f} req/s (statuses {dict(m.api.statuses)}), "
        f"streams open {tv.open}, events {tv.kinds.get('screen', 0) / seconds:.1f}/s, "
        f"{tv.bytes / seconds / 1000:.1f} kB/s, screens process {m.screens_cores:.3f} cores, "
        f"{m.screens_rss_mib:.0f} MiB, {m.screens_threads} threads, "
        f"clients {tv.cpu_seconds / seconds:.3f} cores, cores {json.dumps(m.cores)}",
        flush=True,
    )


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else 0.0


def _report_sse(
    args: argparse.Namespace, stamp: datetime, measured: list[StreamSlice], alone: StreamSlice
) -> int:
    without = [m for m in measured if m.kind == "without"]
    with_tvs = [m for m in measured if m.kind == "with"]
    if not without or not with_tvs:
        return 1
    rps_without = statistics.mean(m.api.rps for m in without)
    rps_with = statistics.mean(m.api.rps for m in with_tvs)
    ratio = rps_with / rps_without
    seconds = sum(m.tv.seconds for m in with_tvs)
    kinds: Counter[str] = Counter()
    statuses: Counter[int] = Counter()
    errors: Counter[str] = Counter()
    delays: list[float] = []
    gaps: list[float] = []
    for m in with_tvs:
        kinds += m.tv.kinds
        statuses += m.tv.statuses
        errors += m.tv.errors
        delays += m.tv.delays_ms
        gaps += m.tv.gaps_s
    events = kinds.get("screen", 0)
    kbytes = sum(m.tv.bytes for m in with_tvs) / 1000
    screens_with = statistics.mean(m.screens_cores for m in with_tvs)
    screens_without = statistics.mean(m.screens_cores for m in without)
    clients = sum(m.tv.cpu_seconds for m in with_tvs) / seconds if seconds else 0.0
    app_without = statistics.mean(m.cores.get("app", 0.0) for m in without)
    app_with = statistics.mean(m.cores.get("app", 0.0) for m in with_tvs)
    combined_without = combine([m.api for m in without])
    combined_with = combine([m.api for m in with_tvs])
    held = min(m.tv.open for m in with_tvs)
    ended = sum(m.tv.ended_by_server for m in with_tvs)
    lines = [
        f"# Store screens: {args.tvs} TVs on event streams against `{args.api_scenario}` "
        f"({stamp:%Y-%m-%d %H:%M} UTC)",
        "",
        "| measure | without TVs | with TVs |",
        "|---|---|---|",
        f"| API req/s (mean of {len(without)} / {len(with_tvs)} slices of "
        f"{args.duration:g} s) | {rps_without:,.1f} | {rps_with:,.1f} |",
        f"| API p50 / p99 ms | {combined_without.latency_ms['p50']:.1f} / "
        f"{combined_without.latency_ms['p99']:.1f} | {combined_with.latency_ms['p50']:.1f} / "
        f"{combined_with.latency_ms['p99']:.1f} |",
        f"| API workers' CPU (cores, 2 sync workers) | {app_without:.2f} | {app_with:.2f} |",
        f"| screens process CPU (cores, 1 gthread worker) | {screens_without:.3f} | "
        f"{screens_with:.3f} |",
        f"| streams held open (fewest in a slice) | — | {held} of {args.tvs} "
        f"(answers {dict(sorted(statuses.items()))}, errors {dict(errors)}, "
        f"ended by the server {ended}) |",
        f"| screen events/s (heartbeats/s) | — | {events / seconds:.1f} "
        f"({kinds.get('ping', 0) / seconds:.1f}) |",
        f"| bytes to the TVs | — | {kbytes / seconds:.1f} kB/s |",
        f"| a change's rendering to its event, p50 / p99 ms | — | {_pct(delays, 0.5):.0f} / "
        f"{_pct(delays, 0.99):.0f} ({len(delays)} events) |",
        f"| time between a TV's events, p50 / p90 s | — | {_pct(gaps, 0.5):.1f} / "
        f"{_pct(gaps, 0.9):.1f} |",
        f"| the TV clients' own CPU (their process) | — | {clients:.3f} cores |",
        f"| the TVs alone, nothing changing: screens process / API workers | — | "
        f"{alone.screens_cores:.3f} / {alone.cores.get('app', 0.0):.3f} cores |",
        f"| screens worker's memory (resident) and threads, at a slice's end | "
        f"{max(m.screens_rss_mib for m in without):.0f} MiB, "
        f"{max(m.screens_threads for m in without)} | "
        f"{max(m.screens_rss_mib for m in with_tvs):.0f} MiB, "
        f"{max(m.screens_threads for m in with_tvs)} |",
        "",
        f"**API throughput: {rps_without:,.1f} req/s without TVs, {rps_with:,.1f} with "
        f"{args.tvs} TVs on event streams: {ratio:.1%} of without** "
        f"(target ≥ 95 %: {'met' if ratio >= 0.95 else 'missed'}).",
        "",
        "Slices (ABBA order): " + ", ".join(f"{m.kind} {m.api.rps:.0f}" for m in measured) + ".",
        "",
        f"Machine: {os.cpu_count()} cores shared with PostgreSQL, Redis, wrk, the screens "
        f"process, the TV clients (`benchmarks/harness/tvstream.py`, a process of their own) "
        f"and any other work; load average at the end "
        f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}.",
    ]
    return _print_and_write(args, stamp, lines, "screens-sse")


def _alone(kind: str, tvs: Tvs, server: GunicornServer, seconds: float) -> Measured:
    """`seconds` of the pollers alone (already on; paused after) against the server."""
    time.sleep(1)  # polls under way
    tvs.take_stats()
    before = cpu.snapshot(server.worker_pids())
    time.sleep(seconds)
    after = cpu.snapshot(server.worker_pids())
    tvs.pause()
    tv = tvs.take_stats()
    measured = Measured(
        kind, LoadResult("none", 0.0, 0, {}, {}, {}), tv, cpu.cores_used(before, after),
        after.wall - before.wall,
    )  # fmt: skip
    print(
        f"  {kind}: {tv.requests() / max(tv.seconds, 1e-9):.1f} requests/s "
        f"{dict(tv.statuses)}, app CPU {_per_request_ms(measured):.2f} ms a request, "
        f"cores {json.dumps(measured.cores)}",
        flush=True,
    )
    return measured


def _per_request_ms(m: Measured | None) -> float:
    """The app's CPU per request of a slice without the API (measured, not estimated)."""
    if m is None or not m.tv.requests():
        return 0.0
    # The requests were counted over a little longer than the CPU was (`tv.seconds`).
    rate = m.tv.requests() / m.tv.seconds
    return 1000 * m.cores.get("app", 0.0) / rate


def _print_slice(m: Measured) -> None:
    tv = m.tv
    print(
        f"  {m.kind:<8} API {m.api.rps:7.1f} req/s (statuses {dict(m.api.statuses)}), "
        f"TVs {tv.requests() / max(tv.seconds, 1e-9):6.1f} polls/s {dict(tv.statuses)} "
        f"errors {dict(tv.errors)}, pollers {tv.cpu_seconds / max(tv.seconds, 1e-9):.3f} cores, "
        f"cores {json.dumps(m.cores)}",
        flush=True,
    )


def _report(
    args: argparse.Namespace,
    stamp: datetime,
    measured: list[Measured],
    first: TvStats,
    alone: Measured | None,
    healthz_alone: Measured | None,
) -> int:
    without = [m for m in measured if m.kind == "without"]
    with_tvs = [m for m in measured if m.kind == "with"]
    if not without or not with_tvs:
        return 1
    rps_without = statistics.mean(m.api.rps for m in without)
    rps_with = statistics.mean(m.api.rps for m in with_tvs)
    ratio = rps_with / rps_without
    tv_statuses: Counter[int] = Counter()
    tv_errors: Counter[str] = Counter()
    latencies: list[float] = []
    for m in with_tvs:
        tv_statuses += m.tv.statuses
        tv_errors += m.tv.errors
        latencies += m.tv.latencies_ms
    polls = sum(tv_statuses.values())
    # The polls were counted from just before the API's slice until they were all answered
    # after it: a little longer than the slice.
    seconds = sum(m.tv.seconds for m in with_tvs)
    latencies.sort()

    def pct(q: float) -> float:
        return latencies[min(len(latencies) - 1, int(q * len(latencies)))] if latencies else 0.0

    app_without = statistics.mean(m.cores.get("app", 0.0) for m in without)
    app_with = statistics.mean(m.cores.get("app", 0.0) for m in with_tvs)
    combined_without = combine([m.api for m in without])
    combined_with = combine([m.api for m in with_tvs])
    # What one poll costs the app, independent of how much of the machine the app got: the
    # app's CPU with TVs, minus the API's requests at their cost without TVs, over the polls.
    api_ms = 1000 * app_without / rps_without if rps_without else 0.0
    poll_rate = polls / seconds if seconds else 0.0
    poll_ms = (1000 * app_with - rps_with * api_ms) / poll_rate if poll_rate else 0.0
    tv_cores = poll_rate * poll_ms / 1000
    poller_cores = sum(m.tv.cpu_seconds for m in with_tvs) / seconds if seconds else 0.0
    quiet_ms, healthz_ms = _per_request_ms(alone), _per_request_ms(healthz_alone)
    poller_ms = 1000 * poller_cores / poll_rate if poll_rate else 0.0
    rendered = tv_statuses.get(200, 0) / polls if polls else 0.0
    revalidated = tv_statuses.get(304, 0) / polls if polls else 0.0
    lines = [
        f"# Store screens: {args.tvs} TVs polling every {args.poll:g} s against "
        f"`{args.api_scenario}` ({stamp:%Y-%m-%d %H:%M} UTC)",
        "",
        "| measure | without TVs | with TVs |",
        "|---|---|---|",
        f"| API req/s (mean of {len(without)} / {len(with_tvs)} slices of "
        f"{args.duration:g} s) | {rps_without:,.1f} | {rps_with:,.1f} |",
        f"| API p50 / p99 ms | {combined_without.latency_ms['p50']:.1f} / "
        f"{combined_without.latency_ms['p99']:.1f} | {combined_with.latency_ms['p50']:.1f} / "
        f"{combined_with.latency_ms['p99']:.1f} |",
        f"| app CPU (cores, 2 workers) | {app_without:.2f} | {app_with:.2f} |",
        f"| TV polls/s | — | {polls / seconds:.1f} ({dict(sorted(tv_statuses.items()))}, "
        f"errors {dict(tv_errors)}) |",
        f"| TV polls answered 200 (rendered) / 304 | — | {rendered:.1%} / {revalidated:.1%} |",
        f"| TV poll latency p50 / p99 ms | — | {pct(0.5):.0f} / {pct(0.99):.0f} |",
        f"| app CPU per request (ms) | API {api_ms:.2f} | a TV poll {poll_ms:.2f} (estimated) |",
        f"| the TV pollers' own CPU (their process) | — | {poller_cores:.3f} cores, "
        f"{poller_ms:.2f} ms a poll |",
        f"| app CPU per quiet poll, the TVs alone (measured) | — | {quiet_ms:.2f} ms "
        f"({dict(alone.tv.statuses) if alone else {}}) |",
        f"| app CPU per `GET /healthz` sent at the TVs' rhythm (measured) | — | "
        f"{healthz_ms:.2f} ms |",
        "",
        f"**API throughput: {rps_without:,.1f} req/s without TVs, {rps_with:,.1f} with "
        f"{args.tvs} TVs: {ratio:.1%} of without** "
        f"(target ≥ 95 %: {'met' if ratio >= 0.95 else 'missed'}).",
        "",
        f"TV polls: {rendered:.1%} answered 200 (a new screen), {revalidated:.1%} 304 "
        f"(unchanged). {args.tvs} TVs at {poll_rate:.0f} polls/s take about {tv_cores:.2f} "
        f"cores of app CPU ({tv_cores / 2:.1%} of a host whose app has 2 whole cores, "
        f"{tv_cores / 4:.1%} of 4). The pollers themselves, which share this machine and "
        f"would not in a store, took {poller_cores:.3f} cores ({poller_cores / 2:.1%} of 2).",
        "",
        "Slices (ABBA order): "
        + ", ".join(f"{m.kind} {m.api.rps:.0f}" for m in measured)
        + f". Warm-up (the API with the TVs): polls {dict(first.statuses)}.",
        "",
        f"Machine: {os.cpu_count()} cores shared with PostgreSQL, Redis, wrk, the TV pollers "
        f"(`benchmarks/harness/tvpoll.py`, a process of their own) and any other work; load "
        f"average at the end "
        f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}.",
    ]
    return _print_and_write(args, stamp, lines, "screens")


def _print_and_write(args: argparse.Namespace, stamp: datetime, lines: list[str], kind: str) -> int:
    """Print the report and, unless `--no-write`, keep it as `results/<stamp>_<kind>.md`."""
    text = "\n".join(lines)
    print("\n" + text)
    if not args.no_write:
        args.results.mkdir(parents=True, exist_ok=True)
        path = args.results / f"{stamp:%Y-%m-%d_%H%M}_{kind}.md"
        path.write_text(text + "\n")
        print(f"\nwritten: {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
