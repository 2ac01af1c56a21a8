"""Store screens: the app CPU one TV poll costs, measured in one process (no server, no load
generator competing for the CPU), quiet and under a flood of board changes.

    .venv/bin/python benchmarks/screens_cpu.py                # 500 TVs over 500 departments
    .venv/bin/python benchmarks/screens_cpu.py --polls 2000

Seeds as `screens.py` does (one organisation, `--departments` departments, `--learners`
learners, this week's 3 paths for everyone, 3 points per learner, one screen per store),
creates the app with production settings and asks it through Flask's test client, under a
virtual clock (`app.clock.now`), so that the polls follow the TVs' real rhythm however fast
or slow this machine runs them:

- `healthz`: `GET /healthz`, the baseline of the same process;
- `quiet 304`: every TV polls every `--poll` seconds with the ETag it has; nothing changes;
- `flood`: the same polls while the boards change `--changes` times a second (the `answer`
  benchmark's correct answers: every one adds points to a learner of a random store, with
  the same board update and change announcement as an answer's commit). The updates' own
  CPU is measured alone first and subtracted, so the figure is what the polls add,
  including what they make the updates cost (announcements to every process).

CPU is `time.process_time()` of the whole process (every thread: the cache-invalidation
listener included). Reported per poll, with the share of 200 (rendered) and 304 answers.
"""

from __future__ import annotations

import argparse
import logging
import os
import random
import secrets
import statistics
import sys
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
WORK = ROOT / "benchmarks" / ".work"
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks.harness.database import (  # noqa: E402
    BenchDatabase,
    default_database_name,
    reset_redis,
)
from benchmarks.harness.scenarios import SCENARIOS, Bench  # noqa: E402
from benchmarks.harness.seed import seed  # noqa: E402


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add = parser.add_argument
    add("--tvs", type=int, default=500)
    add("--poll", type=float, default=5.0, help="seconds between a TV's polls (screen.js)")
    add("--changes", type=float, default=350.0, help="board changes per second in the flood")
    add("--polls", type=int, default=2000, help="polls measured per phase")
    add("--repeat", type=int, default=3, help="runs of every phase (the median is kept)")
    add("--profile", choices=("quiet", "flood"), help="print where that phase's polls spend CPU")
    add("--learners", type=int, default=3000)
    add("--departments", type=int, default=500)
    add(
        "--pg-admin-url",
        default=os.environ.get("BENCH_PG_ADMIN_URL", "postgresql://root@127.0.0.1:5432/postgres"),
    )
    add("--redis-url", default=os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/10"))
    return parser.parse_args(argv)


class VirtualClock:
    """`app.clock.now` under the benchmark's control."""

    def __init__(self) -> None:
        self.at = datetime.now(UTC)

    def now(self) -> datetime:
        return self.at

    def advance(self, seconds: float) -> None:
        self.at += timedelta(seconds=seconds)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    from benchmarks import run
    from benchmarks.screens import make_screens

    secret_key = secrets.token_urlsafe(48)
    database = BenchDatabase(args.pg_admin_url, default_database_name())
    run_args = run.parse_args(["--redis-url", args.redis_url, "--departments", "40"])
    env = run.server_env(run_args, database.url, secret_key)
    os.environ.update({k: env[k] for k in run._APP_KEYS})
    WORK.mkdir(parents=True, exist_ok=True)
    from app.db import make_engine

    regions = 20 if args.departments >= 40 else 1
    database.create()
    engine = make_engine(database.url)
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
        bench = Bench(
            seed=data,
            engine=engine,
            base_url="http://unused",
            connections=1,
            extra={"redis_url": args.redis_url, "points_per_learner": 3},
        )
        SCENARIOS["leaderboard-users"]().prepare(bench)
        SCENARIOS["paths-current"]().prepare(bench)
        paths = make_screens(engine, args.tvs)
        _measure(args, engine, data, paths)
    finally:
        engine.dispose()
        database.drop()
        reset_redis(args.redis_url)
    return 0


def _measure(args: argparse.Namespace, engine: Any, data: Any, paths: list[str]) -> None:
    from sqlalchemy.orm import Session

    from app import clock, create_app
    from app.extensions import get_redis
    from app.leaderboards import rules as board_rules
    from app.leaderboards import service as boards
    from app.leaderboards import store
    from app.orgs.models import Organization, User
    from app.screens import rules

    app = create_app()
    # The access line is part of every request alike; keep it off the terminal.
    log_file = WORK / "screens-cpu.log"
    for handler in logging.getLogger().handlers:
        if isinstance(handler, logging.StreamHandler):
            handler.setStream(log_file.open("a"))
    virtual = VirtualClock()
    clock.now = virtual.now  # type: ignore[method-assign]
    client = app.test_client()
    rng = random.Random(16)
    with Session(engine) as session:
        timezone = session.get_one(Organization, data.org_id).timezone
        learners = [
            (user_id, department_id)
            for user_id, department_id in session.execute(
                User.__table__.select()
                .with_only_columns(User.id, User.department_id)
                .where(User.org_id == data.org_id, User.department_id.is_not(None))
            )
        ]

    def change() -> None:
        """One correct answer's board update, as its commit applies it."""
        user_id, department_id = rng.choice(learners)
        award = board_rules.Award(user_id, department_id, 10, virtual.at)
        increments = [
            store.Increment(
                data.org_id, board, period, member, 10,
                board_rules.ticks_left(period, virtual.at),
            )
            for period, board, member in board_rules.board_keys(award, timezone)
        ]  # fmt: skip
        boards.apply_or_mark_dirty(redis_client, engine, increments)

    with app.app_context():
        redis_client = get_redis()
    etags: dict[int, str] = {}
    statuses: Counter[int] = Counter()

    def poll(n: int) -> None:
        headers = {"Accept-Encoding": "gzip, deflate"}  # as a TV's browser asks
        if n in etags:
            headers["If-None-Match"] = etags[n]
        answer = client.get(paths[n] + "/live", headers=headers)
        statuses[answer.status_code] += 1
        if answer.status_code == 200:
            etags[n] = answer.headers["ETag"]
        elif answer.status_code != 304:
            raise RuntimeError(f"poll answered {answer.status_code}: {answer.get_data()!r}")

    tvs = len(paths)
    step = args.poll / tvs  # virtual seconds between two polls (the TVs take turns)

    def polls(count: int, changes_per_poll: float) -> float:
        """`count` polls in the TVs' rhythm with board changes between them; CPU seconds."""
        owed = 0.0
        started = time.process_time()
        for k in range(count):
            owed += changes_per_poll
            while owed >= 1:
                change()
                owed -= 1
            virtual.advance(step)
            poll(k % tvs)
        return time.process_time() - started

    def changes_alone(count: int, changes_per_poll: float) -> float:
        owed = 0.0
        started = time.process_time()
        for _ in range(count):
            owed += changes_per_poll
            while owed >= 1:
                change()
                owed -= 1
            virtual.advance(step)
        return time.process_time() - started

    # Warm-up: every TV opens its screen (a 200 each), the caches fill, /healthz once.
    for n in range(tvs):
        poll(n)
    for _ in range(200):
        client.get("/healthz")
    statuses.clear()

    def healthz(count: int) -> float:
        started = time.process_time()
        for _ in range(count):
            client.get("/healthz")
        return time.process_time() - started

    if args.profile == "quiet":
        _profiled(lambda: polls(args.polls // 2, 0))
    per_poll = args.changes * step
    # Each measure --repeat times, interleaved, and the median kept: other work on the
    # machine steals CPU time unevenly, and a median of interleaved runs drifts least.
    runs: dict[str, list[float]] = {"healthz": [], "quiet": [], "flood": [], "change": []}
    quiet: Counter[int] = Counter()
    flood: Counter[int] = Counter()
    for _ in range(args.repeat):
        # Every TV takes what the last flood left, so that the quiet phase is quiet.
        virtual.advance(rules.RENDER_MIN_SECONDS)
        for n in range(tvs):
            poll(n)
        runs["healthz"].append(1000 * healthz(args.polls) / args.polls)
        statuses.clear()
        runs["quiet"].append(1000 * polls(args.polls, 0) / args.polls)
        quiet += statuses
        alone = changes_alone(args.polls, per_poll)
        runs["change"].append(1000 * alone / max(1, round(per_poll * args.polls)))
        statuses.clear()
        if args.profile == "flood":
            _profiled(lambda: polls(args.polls // 2, per_poll))
            statuses.clear()
        both = polls(args.polls, per_poll)
        runs["flood"].append(1000 * (both - alone) / args.polls)
        flood += statuses
    healthz_ms, quiet_ms, flood_ms, change_ms = (
        statistics.median(runs[k]) for k in ("healthz", "quiet", "flood", "change")
    )
    rendered = flood.get(200, 0) / max(1, sum(flood.values()))
    # A 200 of the flood, taking its 304s at the quiet cost: (flood - (1 - r) quiet) / r.
    render_ms = (flood_ms - (1 - rendered) * quiet_ms) / rendered if rendered else 0.0
    rate = tvs / args.poll
    print(
        f"\n{tvs} TVs polling every {args.poll:g} s ({rate:.0f} polls/s), "
        f"{args.polls} polls per phase, in one process\n"
        f"| measure | app CPU ms per request | answers |\n|---|---|---|\n"
        f"| GET /healthz | {healthz_ms:.3f} | |\n"
        f"| poll, quiet | {quiet_ms:.3f} | {dict(quiet)} |\n"
        f"| poll, {args.changes:g} board changes/s | {flood_ms:.3f} | {dict(flood)} "
        f"({rendered:.0%} rendered) |\n"
        f"| a 200 under the flood (rendered, estimated) | {render_ms:.3f} | |\n"
        f"| a board change alone | {change_ms:.3f} | |\n\n"
        f"(medians of {args.repeat} interleaved runs; every run: "
        + "; ".join(f"{k} {', '.join(f'{v:.3f}' for v in vals)}" for k, vals in runs.items())
        + ")\n\n"
        f"{tvs} TVs under the flood: {rate * flood_ms / 1000:.3f} cores of app CPU "
        f"({rate * flood_ms / 1000 / 2:.1%} of 2 cores).",
        flush=True,
    )


def _profiled(run: Any) -> None:
    """Where `run()` spends CPU (CPU time, not wall time: waits on Redis are not counted)."""
    import cProfile
    import pstats

    profiler = cProfile.Profile(time.process_time)
    profiler.enable()
    run()
    profiler.disable()
    pstats.Stats(profiler).sort_stats("tottime").print_stats(30)
    pstats.Stats(profiler).sort_stats("cumulative").print_stats(30)
    pstats.Stats(profiler).sort_stats("cumulative").print_callees(
        "pages.py.*live|_render|screen_content|after_request|process_response"
    )


if __name__ == "__main__":
    sys.exit(main())
