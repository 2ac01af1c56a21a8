"""Issue 3's two leaderboard figures that are not a request/s ratio to /healthz.

    .venv/bin/python benchmarks/leaderboards.py live      # answers with board updates on vs off
    .venv/bin/python benchmarks/leaderboards.py rebuild   # `leaderboards rebuild` over 1M rows

`live` runs the `answer` scenario of `run.py` with gunicorn started with LEADERBOARDS_LIVE=0
(awards skip the Redis boards) and =1 (as shipped), alternately `--repeat` times, each a full
`run.py` run (own database, seed, server), and prints the throughput with updates as a share
of the throughput without. `rebuild` seeds learners and departments like `run.py`, writes
`--rows` ledger rows with COPY spread over the last `--weeks` weeks, and times `rebuild_all`,
the function `flask leaderboards rebuild` calls.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks.harness.database import BenchDatabase, reset_redis  # noqa: E402


def live(args: argparse.Namespace, passthrough: list[str]) -> int:
    from benchmarks import run

    runs: dict[str, list[dict[str, object]]] = {"0": [], "1": []}
    for repeat in range(args.repeat):
        for setting in ("0", "1"):
            # Under the worktree: run.py prints the results' paths relative to it.
            work = ROOT / "benchmarks" / ".work"
            work.mkdir(parents=True, exist_ok=True)
            folder = Path(tempfile.mkdtemp(prefix="live-", dir=work))
            print(f"\n== repeat {repeat + 1}: LEADERBOARDS_LIVE={setting}", flush=True)
            code = run.main(
                [
                    "--scenarios", "answer", "--rounds", "1", "--leaderboards-live", setting,
                    "--results", str(folder), *passthrough,
                ]
            )  # fmt: skip
            if code:
                print(f"run.py failed with exit code {code}")
                return code
            record = json.loads(next(folder.glob("*.json")).read_text())
            runs[setting] += [ln for ln in record["lines"] if ln["scenario"] == "answer"]

    def mean(setting: str, key: str) -> float:
        values = [float(str(line[key])) for line in runs[setting]]
        return sum(values) / len(values)

    print("\nanswer scenario, board updates off (0) and on (1):")
    for setting in ("0", "1"):
        for line in runs[setting]:
            print(
                f"  LEADERBOARDS_LIVE={setting}: {float(str(line['rps'])):7.1f} req/s, "
                f"{float(str(line['ratio_to_healthz'])):.1%} of /healthz, "
                f"app CPU {line['app_cpu_ms_per_request']} ms/req"
            )
    by_ratio = mean("1", "ratio_to_healthz") / mean("0", "ratio_to_healthz")
    by_rps = mean("1", "rps") / mean("0", "rps")
    by_cpu = mean("0", "app_cpu_ms_per_request") / mean("1", "app_cpu_ms_per_request")
    print(
        f"with updates / without: {by_ratio:.0%} by the ratio to /healthz, {by_rps:.0%} by "
        f"req/s, {by_cpu:.0%} by app CPU per request (target ≥ 90 %)"
    )
    return 0


def rebuild(args: argparse.Namespace) -> int:
    database = BenchDatabase(args.pg_admin_url, args.database)
    os.environ.update(
        {"DATABASE_URL": database.url, "REDIS_URL": args.redis_url, "SECRET_KEY": "x" * 48}
    )
    import redis
    from sqlalchemy import text
    from sqlalchemy.orm import Session

    from app.db import make_engine
    from app.leaderboards.service import rebuild_all
    from benchmarks.harness.seed import seed, seed_points

    database.create()
    engine = make_engine(database.url)
    client = redis.Redis.from_url(args.redis_url)
    try:
        database.migrate(engine)
        reset_redis(args.redis_url)
        regions = 20
        data = seed(
            engine,
            learners=args.learners,
            regions=regions,
            stores_per_region=max(1, args.departments // regions - 1),
            content_dir=ROOT / "content",
            media_dir=ROOT / "benchmarks" / ".work" / "media",
            secret_key=secrets.token_urlsafe(48),
            token_lifetime=timedelta(hours=1),
        )
        print(f"seeded {len(data.learners)} learners, {data.department_count} departments "
              f"in {data.seconds:.1f}s", flush=True)  # fmt: skip
        now = datetime.now(UTC)
        seconds = seed_points(
            engine, data.learners, org_id=data.org_id, rows=args.rows,
            start=now - timedelta(weeks=args.weeks), end=now,
        )  # fmt: skip
        with engine.connect() as conn:
            conn.execute(text("ANALYZE point_awards"))
            conn.commit()
        print(f"wrote {args.rows:,} ledger rows with COPY in {seconds:.1f}s", flush=True)
        times = []
        for attempt in range(args.times):
            started = time.perf_counter()
            with Session(engine) as session:  # as `flask leaderboards rebuild` does
                written = rebuild_all(session, now=datetime.now(UTC), client=client)
                session.commit()
            times.append(time.perf_counter() - started)
            print(f"rebuild {attempt + 1}: {written} board keys in {times[-1]:.1f}s", flush=True)
        print(f"leaderboards rebuild over {args.rows:,} rows: {min(times):.1f}–{max(times):.1f}s "
              "(aim: under 60 s)")  # fmt: skip
    finally:
        client.close()
        engine.dispose()
        reset_redis(args.redis_url)
        if not args.keep:
            database.drop()
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    live_cmd = commands.add_parser(
        "live", help="answers with board updates on vs off; other options go to run.py"
    )
    live_cmd.add_argument("--repeat", type=int, default=2, help="off/on pairs to run")
    rebuild_cmd = commands.add_parser("rebuild", help="time `leaderboards rebuild` over the ledger")
    add = rebuild_cmd.add_argument
    add("--rows", type=int, default=1_000_000)
    add("--weeks", type=int, default=8, help="spread the ledger over this many weeks to now")
    add("--learners", type=int, default=100_000)
    add("--departments", type=int, default=1000)
    add("--times", type=int, default=2, help="rebuild this many times")
    add(
        "--pg-admin-url",
        default=os.environ.get("BENCH_PG_ADMIN_URL", "postgresql://root@127.0.0.1:5432/postgres"),
    )
    add("--database", default=f"nl_bench_rebuild_{os.getpid()}")
    add("--redis-url", default=os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/10"))
    add("--keep", action="store_true", help="keep the database")
    args, passthrough = parser.parse_known_args(argv)
    if args.command == "live":
        return live(args, passthrough)
    if passthrough:
        parser.error(f"unknown options {passthrough}")
    return rebuild(args)


if __name__ == "__main__":
    sys.exit(main())
