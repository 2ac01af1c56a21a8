"""Store screens: what 500 TVs polling their screens cost the API, measured in one run.

    make bench-screens
    .venv/bin/python benchmarks/screens.py --tvs 500 --pairs 3 --duration 10

Seeds like `run.py` (one organisation, `--departments` departments, `--learners` learners,
the shipped content, this week's 3 paths for everyone, 3 points per learner), makes `--tvs`
screens spread over the stores that have people, starts gunicorn (2 sync workers,
production settings) and then measures the API under `wrk` at 16 connections (an API
scenario of `run.py`, `answer` by default: every answer pays points, so the TVs of the
answering learners' stores see changes and render anew) in alternating slices:

- without: the API scenario alone;
- with: the same, while every TV polls its `/screens/<secret>/live` every `--poll` seconds
  (default 5, as `screen.js`) with the ETag it last got in `If-None-Match`, each on a
  new connection (gunicorn's sync workers close after each answer), started at random
  offsets as TVs switched on through the day would be.

Slices run in ABBA order (without, with, with, without, ...), so a drift in the machine's
background load hits both sides alike. The result: the API's req/s with TVs as a share of
without (the issue's target: at least 95 %), the TVs' polls per second and their statuses,
and the app's CPU per request in each. The TV pollers are asyncio tasks in this process.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import secrets
import statistics
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

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

    def requests(self) -> int:
        return sum(self.statuses.values())


class Tvs:
    """`count` TVs polling their screens, in an asyncio loop on a thread of its own. They
    poll only while `on`; each keeps the ETag it last got, as the page does."""

    def __init__(self, host: str, port: int, paths: list[str], poll: float) -> None:
        self.host, self.port, self.paths, self.poll = host, port, paths, poll
        self.etags: dict[int, str] = {}
        self.in_flight = 0
        self.on = threading.Event()
        self.stats = TvStats()
        self._stop = False
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop = True
        self.on.set()
        self._thread.join(timeout=30)

    def pause(self, timeout: float = 60) -> None:
        """Stop polling and wait for the polls under way to be answered."""
        self.on.clear()
        deadline = time.monotonic() + timeout
        while self.in_flight and time.monotonic() < deadline:
            time.sleep(0.05)

    def take_stats(self) -> TvStats:
        stats, self.stats = self.stats, TvStats()
        return stats

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._loop.run_until_complete(self._all())

    async def _all(self) -> None:
        rng = random.Random(5)
        await asyncio.gather(
            *(self._tv(n, rng.uniform(0, self.poll)) for n in range(len(self.paths)))
        )

    async def _tv(self, n: int, offset: float) -> None:
        # Each TV keeps its own phase while paused, so that resuming does not make 500 TVs
        # poll in the same instant (TVs switched on through the day are spread out).
        next_tick = time.monotonic() + offset
        while not self._stop:
            await asyncio.sleep(max(0.0, next_tick - time.monotonic()))
            next_tick += self.poll
            if not self.on.is_set():
                continue
            self.in_flight += 1
            try:
                await self._poll_once(n)
            finally:
                self.in_flight -= 1

    async def _poll_once(self, n: int) -> None:
        started = time.monotonic()
        headers = f"GET {self.paths[n]}/live HTTP/1.1\r\nHost: {self.host}\r\n"
        headers += "Accept: application/json\r\nConnection: close\r\n"
        if n in self.etags:
            headers += f"If-None-Match: {self.etags[n]}\r\n"
        try:
            reader, writer = await asyncio.wait_for(
                asyncio.open_connection(self.host, self.port), timeout=30
            )
            writer.write((headers + "\r\n").encode())
            await writer.drain()
            raw = await asyncio.wait_for(reader.read(), timeout=30)
            writer.close()
        except (OSError, TimeoutError) as error:
            self.stats.errors[type(error).__name__] += 1
            return
        head = raw.split(b"\r\n\r\n", 1)[0].decode("latin-1").split("\r\n")
        status = int(head[0].split()[1])
        for line in head[1:]:
            name, _, value = line.partition(":")
            if name.lower() == "etag":
                self.etags[n] = value.strip()
        self.stats.statuses[status] += 1
        self.stats.latencies_ms.append((time.monotonic() - started) * 1000)


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
    kind: str  # "without" | "with"
    api: LoadResult
    tv: TvStats
    cores: dict[str, float]


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
        with GunicornServer(root=ROOT, env=env, config=config, log_path=log_path) as server:
            bench = Bench(
                seed=data,
                engine=engine,
                base_url=server.base_url,
                connections=args.connections,
                extra={"redis_url": args.redis_url, "points_per_learner": 3},
                active_learners=args.active_learners,
            )
            # Boards with points and this week's paths, so that a screen shows (and renders)
            # what a store's would.
            SCENARIOS["leaderboard-users"]().prepare(bench)
            SCENARIOS["paths-current"]().prepare(bench)
            scenario = SCENARIOS[args.api_scenario]()
            scenario.prepare(bench)
            bench.prime_logins(2)
            tvs = Tvs("127.0.0.1", server.port, screen_paths, args.poll)
            tvs.start()
            # Warm-up: every TV opens its screen once (its first poll is a 200) and the API
            # runs, so that both sides start from a steady state.
            tvs.on.set()
            warm = scenario.workload(bench, run._budget(800, args.warmup))
            warmed = generator.run(
                server.base_url, warm, connections=args.connections, duration=args.warmup
            )
            run._settle(warmed)
            time.sleep(max(0.0, args.poll - args.warmup) + 1)
            tvs.pause()
            tv_first = tvs.take_stats()
            order = []
            for _ in range(args.pairs):
                order += ["without", "with"] if len(order) % 4 == 0 else ["with", "without"]
            for kind in order:
                if kind == "with":
                    tvs.on.set()
                    time.sleep(1)  # the TVs' polls under way before the API is measured
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
                _print_slice(measured[-1], args.duration)
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
    return _report(args, stamp, measured, tv_first)


def _print_slice(m: Measured, seconds: float) -> None:
    tv = m.tv
    print(
        f"  {m.kind:<8} API {m.api.rps:7.1f} req/s (statuses {dict(m.api.statuses)}), "
        f"TVs {tv.requests() / seconds:6.1f} polls/s {dict(tv.statuses)} "
        f"errors {dict(tv.errors)}, cores {json.dumps(m.cores)}",
        flush=True,
    )


def _report(
    args: argparse.Namespace, stamp: datetime, measured: list[Measured], first: TvStats
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
    seconds = args.duration * len(with_tvs)
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
        f"| TV poll latency p50 / p99 ms | — | {pct(0.5):.0f} / {pct(0.99):.0f} |",
        f"| app CPU per request (ms) | API {api_ms:.2f} | a TV poll {poll_ms:.2f} (estimated) |",
        "",
        f"{args.tvs} TVs at {poll_rate:.0f} polls/s take about {tv_cores:.2f} cores of app CPU: "
        f"{tv_cores / 2:.1%} of a host whose app has 2 whole cores, {tv_cores / 4:.1%} of 4.",
        "",
        f"**API throughput with {args.tvs} TVs: {ratio:.1%} of without** "
        f"(target ≥ 95 %: {'met' if ratio >= 0.95 else 'missed'}).",
        "",
        "Slices (ABBA order): "
        + ", ".join(f"{m.kind} {m.api.rps:.0f}" for m in measured)
        + f". Warm-up: every TV's first poll {dict(first.statuses)}.",
        "",
        f"Machine: {os.cpu_count()} cores shared with PostgreSQL, Redis, wrk, the TV pollers "
        f"(this process) and other people's work; load average at the end "
        f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}.",
    ]
    text = "\n".join(lines)
    print("\n" + text)
    if not args.no_write:
        args.results.mkdir(parents=True, exist_ok=True)
        path = args.results / f"{stamp:%Y-%m-%d_%H%M}_screens.md"
        path.write_text(text + "\n")
        print(f"\nwritten: {path.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
