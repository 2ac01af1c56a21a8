"""Load-test the real app: `make bench` (or `.venv/bin/python benchmarks/run.py --help`).

Creates a throwaway PostgreSQL database, migrates and seeds it through the app's services,
starts gunicorn against it and Redis, and measures each scenario next to a /healthz baseline
at the same concurrency, round after round. Prints a table and writes it to
benchmarks/results/. Everything it creates is removed at the end.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import secrets
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography.fernet import Fernet

ROOT = Path(__file__).resolve().parent.parent
WORK = ROOT / "benchmarks" / ".work"
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))  # `python benchmarks/run.py` from anywhere

# The harness imports the app lazily: the app reads its settings when imported.
from benchmarks.harness import cpu, profiling  # noqa: E402
from benchmarks.harness.database import (  # noqa: E402
    BenchDatabase,
    default_database_name,
    reset_redis,
)
from benchmarks.harness.loadgen import (  # noqa: E402
    LoadGenerator,
    LoadResult,
    combine,
    pick_generator,
)
from benchmarks.harness.report import FOOTNOTE, Line, text_table, write_results  # noqa: E402
from benchmarks.harness.scenarios import SCENARIOS, Bench, Healthz, Scenario  # noqa: E402
from benchmarks.harness.seed import load_seed, seed  # noqa: E402
from benchmarks.harness.server import GunicornServer, ServerConfig  # noqa: E402


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add = parser.add_argument
    add(
        "--scenarios",
        default=",".join(n for n in SCENARIOS if n != "healthz"),
        help="comma-separated, run in this order after /healthz (default: %(default)s)",
    )
    add("--duration", type=float, default=12, help="seconds measured per scenario")
    add("--warmup", type=float, default=3, help="seconds of the same load before measuring")
    add("--connections", type=int, default=16)
    add("--rounds", type=int, default=2, help="repeat everything to see the variance")
    add(
        "--slices",
        type=int,
        default=2,
        help="alternate /healthz and the scenario this many times within --duration each, "
        "so both see the same background load",
    )
    add("--learners", type=int, default=3000)
    add(
        "--active-learners",
        type=int,
        default=1000,
        help="how many of the learners send the requests (0: all)",
    )
    add(
        "--prime",
        type=int,
        default=6,
        help="GET /me per active learner before measuring, to fill the workers' login caches "
        "(0: measure with cold caches)",
    )
    add("--regions", type=int, default=5)
    add("--stores-per-region", type=int, default=9, help="departments = regions × (1 + this)")
    add(
        "--departments",
        type=int,
        default=None,
        help="total departments, 20 regions of stores (overrides --regions and "
        "--stores-per-region; issue 3: --learners 100000 --departments 1000)",
    )
    add(
        "--points-per-learner",
        type=int,
        default=3,
        help="ledger rows per learner over this week, for the leaderboard scenarios",
    )
    add(
        "--leaderboards-live",
        choices=("1", "0"),
        default="1",
        help="LEADERBOARDS_LIVE for the server: 0 = answers do not update the Redis boards",
    )
    add(
        "--answers-per-learner",
        type=int,
        default=100,
        help="a year of answers per learner for the insights scenarios (issue 14: 100 000 "
        "learners × 100 = 10 million)",
    )
    add("--workers", type=int, default=2)
    add("--worker-class", choices=("sync", "gthread"), default="sync")
    add("--threads", type=int, default=4, help="threads per worker with --worker-class gthread")
    add(
        "--gunicorn-access-log",
        action="store_true",
        help="also let gunicorn log each request (the app already writes one JSON line)",
    )
    add("--loadgen", choices=("auto", "wrk", "python"), default="auto")
    add("--wrk-threads", type=int, default=2)
    add(
        "--profile",
        default="",
        help="comma-separated scenarios to run once more with py-spy on the workers",
    )
    add(
        "--profile-cpu",
        action="store_true",
        help="profile on-CPU time only (default: wall clock, waiting on PostgreSQL/Redis too)",
    )
    add(
        "--pg-admin-url",
        default=os.environ.get("BENCH_PG_ADMIN_URL", "postgresql://root@127.0.0.1:5432/postgres"),
    )
    add(
        "--database",
        default=None,
        help="a kept nl_bench_* database: created and seeded when missing (or its seeding never "
        "finished), reused as it is when it was seeded with the same --learners, --regions and "
        "--stores-per-region, migrated to head either way, never dropped; tokens are minted "
        "anew each run (default: a throwaway nl_bench_<pid>)",
    )
    add("--redis-url", default=os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/10"))
    add("--results", type=Path, default=ROOT / "benchmarks" / "results")
    add("--no-write", action="store_true", help="print the table only")
    add("--keep", action="store_true", help="keep the database and the server log")
    add("--strict", action="store_true", help="exit 1 when a target is missed")
    args = parser.parse_args(argv)  # fmt: skip
    if args.departments is not None:
        args.regions = 20 if args.departments >= 40 else 1
        args.stores_per_region = max(1, args.departments // args.regions - 1)
    unknown = [s for s in _split(args.scenarios) + _split(args.profile) if s not in SCENARIOS]
    if unknown:
        parser.error(f"unknown scenarios {unknown}; known: {', '.join(SCENARIOS)}")
    return args


def _split(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


def server_env(args: argparse.Namespace, database_url: str, secret_key: str) -> dict[str, str]:
    """Production settings, except a default rate limit high enough for one client address:
    the limiter still runs (a Redis round trip per request) but never answers 429."""
    inherited = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("DATABASE_", "REDIS_", "NANOLEARN_", "FLASK_"))
    }
    return {
        **inherited,
        "NANOLEARN_ENV": "production",
        "NANOLEARN_INSTANCE_DIR": str(WORK / "instance"),
        "SECRET_KEY": secret_key,
        "DATABASE_URL": database_url,
        "REDIS_URL": args.redis_url,
        "LOG_JSON": "1",
        "RATE_LIMIT_DEFAULT": "600/minute",  # the production default
        "MEDIA_DIR": str(WORK / "media"),
        "PYTHONDONTWRITEBYTECODE": "1",
        "LEADERBOARDS_LIVE": args.leaderboards_live,
        # A throwaway key for the run's stored secrets (the LRS password of answer_xapi).
        "ENCRYPTION_KEYS": Fernet.generate_key().decode(),
    }


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    stamp = datetime.now(UTC)
    secret_key = secrets.token_urlsafe(48)

    database = BenchDatabase(args.pg_admin_url, args.database or default_database_name())
    kept = args.database is not None
    # What a kept database must have been seeded with to be reused.
    seeded_as = json.dumps(
        {"learners": args.learners, "regions": args.regions, "stores": args.stores_per_region}
    )
    env = server_env(args, database.url, secret_key)
    # The app reads its settings at import; this process seeds with the same ones.
    os.environ.update({k: env[k] for k in _APP_KEYS})

    from app.config import load_settings
    from app.db import make_engine

    settings = load_settings()
    generator: LoadGenerator = pick_generator(args.loadgen, wrk_threads=args.wrk_threads)
    config = ServerConfig(
        workers=args.workers,
        worker_class=args.worker_class,
        threads=args.threads if args.worker_class == "gthread" else 1,
        gunicorn_access_log=args.gunicorn_access_log,
    )
    log_path = WORK / f"gunicorn-{stamp:%Y%m%dT%H%M%S}.log"
    print(f"load generator: {generator.name}; server: {config.describe()}; db: {database.name}")

    lines: list[Line] = []
    notes: list[str] = []
    failed = False
    reuse = kept and database.seeded_as() == seeded_as
    if not reuse:
        database.create()
    engine = make_engine(database.url)
    try:
        database.migrate(engine)  # a kept database too: the code measured may have migrations
        reset_redis(args.redis_url)
        # Long enough for the whole run; the server checks signature, expiry and the login.
        token_lifetime = timedelta(hours=2)
        if reuse:
            data = load_seed(engine, secret_key=settings.secret_key, token_lifetime=token_lifetime)
            print(
                f"reused {database.name}: {len(data.learners)} learners in "
                f"{data.department_count} departments, {len(data.modules)} modules, tokens "
                f"minted in {data.seconds:.1f}s"
            )
        else:
            data = seed(
                engine,
                learners=args.learners,
                regions=args.regions,
                stores_per_region=args.stores_per_region,
                content_dir=ROOT / "content",
                media_dir=WORK / "media",
                secret_key=settings.secret_key,
                token_lifetime=token_lifetime,
            )
            if kept:
                database.mark_seeded(seeded_as)
            print(
                f"seeded {len(data.learners)} learners in {data.department_count} departments, "
                f"{len(data.modules)} modules in {data.seconds:.1f}s"
            )
        with GunicornServer(root=ROOT, env=env, config=config, log_path=log_path) as server:
            bench = Bench(seed=data, engine=engine, base_url=server.base_url,
                          connections=args.connections, extra={"redis_url": args.redis_url,
                          "points_per_learner": args.points_per_learner,
                          "answers_per_learner": args.answers_per_learner,
                          "secret_key": settings.secret_key,
                          "interop_key": env["ENCRYPTION_KEYS"]},
                          active_learners=args.active_learners)  # fmt: skip

            def run_slice(
                scenario: Scenario, seconds: float, budget_rps: float, profile_label: str | None
            ) -> Slice:
                workload = scenario.workload(bench, _budget(budget_rps, seconds))
                profilers = []
                if profile_label:
                    profilers = profiling.start(
                        server.worker_pids(),
                        seconds,
                        WORK / "profiles",
                        profile_label,
                        wall=not args.profile_cpu,
                    )
                before = cpu.snapshot(server.worker_pids())
                result = generator.run(
                    server.base_url, workload, connections=args.connections, duration=seconds
                )
                after = cpu.snapshot(server.worker_pids())
                _settle(result)
                for profiler in profilers:
                    profiler.wait(timeout=seconds + 30)
                return Slice(
                    result=result,
                    problems=scenario.verify(bench, workload, result),
                    cores=cpu.cores_used(before, after),
                    verified=workload.state.get("verified"),
                )

            def measure(
                scenario: Scenario, round_no: int, profile_label: str | None = None
            ) -> tuple[Line, list[Slice]]:
                """The scenario and /healthz in alternating slices, so both see the same
                background load; returns the scenario's line and the /healthz slices."""
                problems: list[str] = []
                if args.warmup > 0:
                    warm = run_slice(scenario, args.warmup, 5000.0, None)
                    problems += [f"warm-up: {p}" for p in warm.problems]
                seconds = args.duration / args.slices
                baseline: list[Slice] = []
                own: list[Slice] = []
                for index in range(args.slices):
                    baseline.append(run_slice(Healthz(), seconds, 5000.0, None))
                    label = f"{profile_label}-{index}" if profile_label else None
                    own.append(run_slice(scenario, seconds, baseline[-1].result.rps, label))
                base = combine([s.result for s in baseline])
                result = combine([s.result for s in own])
                problems += [p for s in own for p in s.problems]
                problems += [f"/healthz: {p}" for s in baseline for p in s.problems]
                ratio = result.rps / base.rps if base.rps else None
                target = scenario.target
                verified = [s.verified for s in own if s.verified]
                line = Line(
                    round=round_no,
                    scenario=scenario.name,
                    title=scenario.title + (" [py-spy attached]" if profile_label else ""),
                    expected_status=scenario.expected_status,
                    result=result,
                    ratio=ratio,
                    target=target.describe() if target else None,
                    target_met=(
                        target.met(ratio, result.latency_ms["p99"])
                        if target and ratio is not None and not profile_label
                        else None
                    ),
                    problems=problems,
                    extra={
                        "healthz_rps_paired": round(base.rps, 1),
                        "cpu_cores": _mean_cores(own),
                        **({"verified": verified} if verified else {}),
                    },
                )
                _print_line(line)
                return line, baseline

            selected = [SCENARIOS[name]() for name in _split(args.scenarios)]
            for scenario in selected:
                scenario.prepare(bench)
            if args.prime:
                sent, seconds = bench.prime_logins(args.prime)
                print(f"primed the login caches: {sent} GET /me in {seconds:.1f}s")
            for round_no in range(1, args.rounds + 1):
                healthz_slices: list[Slice] = []
                round_lines = []
                for scenario in selected:
                    line, baseline = measure(scenario, round_no)
                    round_lines.append(line)
                    healthz_slices += baseline
                healthz = Line(
                    round=round_no,
                    scenario="healthz",
                    title=Healthz.title,
                    expected_status=Healthz.expected_status,
                    result=combine([s.result for s in healthz_slices]),
                    ratio=None,
                    problems=[p for s in healthz_slices for p in s.problems],
                    extra={"cpu_cores": _mean_cores(healthz_slices)},
                )
                _print_line(healthz)
                lines += [healthz, *round_lines]
            for name in _split(args.profile):
                label = f"{stamp:%Y%m%dT%H%M%S}-{name}"
                profiled = next((s for s in selected if s.name == name), None)
                if profiled is None:
                    profiled = SCENARIOS[name]()
                    profiled.prepare(bench)
                lines.append(measure(profiled, 0, profile_label=label)[0])
                files = sorted((WORK / "profiles").glob(f"{label}-*.txt"))
                summary = profiling.summarize(files, wall=not args.profile_cpu)
                (WORK / "profiles" / f"{label}-summary.txt").write_text(summary + "\n")
                print(f"\nprofile of {name} ({', '.join(str(f) for f in files)}):\n{summary}\n")
    finally:
        engine.dispose()
        if kept:
            print(f"kept database {database.name} (--database)")
            reset_redis(args.redis_url)
            if not args.keep:
                log_path.unlink(missing_ok=True)
        elif args.keep:
            print(f"kept database {database.name} and {log_path}")
        else:
            database.drop()
            reset_redis(args.redis_url)
            log_path.unlink(missing_ok=True)

    for line in lines:
        if line.problems:
            failed = True
            notes.append(f"round {line.round} {line.scenario}: " + "; ".join(line.problems))
    notes += _summary_notes(lines)
    for line in lines:
        for checked in line.extra.get("verified", []):
            notes.append(
                f"round {line.round} {line.scenario} slice checked: "
                + ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in checked.items())
            )
    print()
    print(text_table(lines))
    print(FOOTNOTE)
    for note in notes:
        print("- " + note)
    facts = _facts(args, config, generator, database.server_facts(), data_counts=(
        len(data.learners), data.department_count, len(data.modules)))  # fmt: skip
    if not args.no_write:
        md, js = write_results(args.results, f"{stamp:%Y-%m-%d_%H%M}", lines, facts, notes)
        print(f"\nwritten: {md.relative_to(ROOT)}, {js.relative_to(ROOT)}")
    missed = any(line.target_met is False for line in lines)
    return 1 if failed or (args.strict and missed) else 0


_APP_KEYS = {
    "NANOLEARN_ENV", "NANOLEARN_INSTANCE_DIR", "SECRET_KEY", "DATABASE_URL", "REDIS_URL",
    "LOG_JSON", "RATE_LIMIT_DEFAULT", "MEDIA_DIR",
}  # fmt: skip


@dataclass
class Slice:
    result: LoadResult
    problems: list[str]
    cores: dict[str, float]
    verified: object = None


def _mean_cores(slices: list[Slice]) -> dict[str, float]:
    """The CPU split over several slices, weighted by their length."""
    total = sum(s.result.duration_s for s in slices) or 1.0
    groups = {group for s in slices for group in s.cores}
    return {
        g: round(sum(s.cores.get(g, 0.0) * s.result.duration_s for s in slices) / total, 2)
        for g in sorted(groups)
    }


def _settle(result: LoadResult) -> None:
    """Let the server finish what was in flight when the generator stopped (at most one
    request per connection), so checks and the next run see a quiet database."""
    time.sleep(min(10.0, max(0.5, 2 * result.latency_ms["max"] / 1000)))


def _budget(rps: float, seconds: float) -> int:
    """How many once-only requests to prepare: nothing outruns /healthz, plus a margin."""
    return int(rps * seconds * 1.25) + 2000


def _print_line(line: Line) -> None:
    r = line.result
    ratio = "" if line.ratio is None else f" ({line.ratio:.0%} of /healthz)"
    status = "ok" if not line.problems else "FAILED: " + "; ".join(line.problems)
    print(
        f"  round {line.round} {line.title:<44} {r.rps:8.0f} req/s{ratio:<20} "
        f"p50 {r.latency_ms['p50']:6.1f} ms  p99 {r.latency_ms['p99']:6.1f} ms  "
        f"cores {json.dumps(line.extra.get('cpu_cores', {}))}  {status}",
        flush=True,
    )


def _summary_notes(lines: list[Line]) -> list[str]:
    notes = []
    by_name: dict[str, list[Line]] = {}
    for line in lines:
        if line.round > 0:
            by_name.setdefault(line.scenario, []).append(line)
    for name, group in by_name.items():
        rps = [ln.result.rps for ln in group]
        ratios = [ln.ratio for ln in group if ln.ratio is not None]
        spread = (max(rps) - min(rps)) / max(rps) if max(rps) else 0.0
        text = f"{name}: {min(rps):,.0f}–{max(rps):,.0f} req/s over {len(group)} rounds"
        text += f" (spread {spread:.0%})"
        if ratios:
            text += f", {min(ratios):.0%}–{max(ratios):.0%} of /healthz"
        if group[0].target:
            met = [ln.target_met for ln in group]
            text += f"; target {group[0].target}: " + (
                "met in every round" if all(met) else f"missed in {met.count(False)} of {len(met)}"
            )
        notes.append(text)
    return notes


def _facts(
    args: argparse.Namespace,
    config: ServerConfig,
    generator: LoadGenerator,
    postgres: dict[str, str],
    data_counts: tuple[int, int, int],
) -> dict[str, object]:
    model = "?"
    try:
        for row in Path("/proc/cpuinfo").read_text().splitlines():
            if row.startswith("model name"):
                model = row.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    learners, departments, modules = data_counts
    return {
        "date (UTC)": datetime.now(UTC).strftime("%Y-%m-%d %H:%M"),
        "machine": f"{os.cpu_count()} cores ({model}), shared by the load generator, gunicorn, "
        "PostgreSQL, Redis and other engineers' test runs",
        "load average at the end": " ".join(f"{x:.2f}" for x in os.getloadavg()),
        "python": platform.python_version(),
        "server": config.describe(),
        "app settings": "NANOLEARN_ENV=production, LOG_JSON=1 (one JSON access line per request "
        "to a file), RATE_LIMIT_DEFAULT=600/minute per learner (the default)",
        "load generator": generator.name,
        "connections": args.connections,
        "duration per scenario": f"{args.warmup:g} s warm-up, then {args.duration:g} s measured "
        f"in {args.slices} slices, each after a /healthz slice of the same length",
        "rounds": args.rounds,
        "data": f"{learners} learners, {departments} departments, {modules} modules",
        "postgresql": ", ".join(f"{k}={v}" for k, v in postgres.items()),
        "redis": args.redis_url,
    }


if __name__ == "__main__":
    sys.exit(main())
