"""Shift start: learners open the app within one minute, at increasing arrival rates.

    make bench-shiftstart
    .venv/bin/python benchmarks/shiftstart.py --rates 1,2,4,6,8 --window 60

Seeds like `run.py` (one organisation, `--learners` learners, the shipped content, this
week's 3 paths for everyone, 3 points per learner on the boards) plus a fresh refresh token
per learner, starts gunicorn (2 sync workers, production settings) and then, for each rate
in `--rates` (learners arriving per second, Poisson, for `--window` seconds):

1. `/healthz` alone under wrk at 16 connections for `--healthz-seconds`: its req/s, p50/p99
   and app CPU per request, the baseline of this step under this moment's background load;
2. the shift start, open loop: each arriving learner (a different one each time, none has
   used the app today, so no process knows their login yet) refreshes their token, reads
   `GET /me`, this week's paths, a module of this week's first path, starts an attempt,
   answers `--answers` questions (80 % right), completes, and reads their department's
   board, `--think` seconds apart (± half). Beside it `/healthz` is probed at `--probe`
   per second, so its latency is measured under the same load.

Every request is checked for its expected status. A step's figures are the latencies
(p50/p99, all requests and per request type), the requests per second served, and the CPU
each part spent per learner: the app's workers, this run's own PostgreSQL backends and this
run's own Redis server (read from /proc by process, so other people's work on the shared
server does not count). The run stops after the first step whose p99 passes `--stop-p99`
(250 ms). Results go to `benchmarks/results/<date>_<time>_shiftstart.md` and `.json`.
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import json
import os
import random
import secrets
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
from benchmarks.harness.loadgen import LoadResult, pick_generator  # noqa: E402
from benchmarks.harness.scenarios import API, LANGUAGES, SCENARIOS, Bench, Healthz  # noqa: E402
from benchmarks.harness.seed import Learner, ModuleInfo, seed  # noqa: E402
from benchmarks.harness.server import GunicornServer, ServerConfig  # noqa: E402

KINDS = ("refresh", "me", "paths", "module", "start", "answer", "complete", "board")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add = parser.add_argument
    add("--rates", default="1,2,4,6,8,10,12,16", help="learners arriving per second, per step")
    add("--window", type=float, default=60, help="seconds over which a step's learners arrive")
    add("--answers", type=int, default=5, help="answers per learner")
    add("--think", type=float, default=1.0, help="seconds between a learner's requests (± half)")
    add("--probe", type=float, default=5.0, help="/healthz probes per second during a step")
    add("--healthz-seconds", type=float, default=10, help="the /healthz slice before each step")
    add("--warmup", type=int, default=30, help="learners at 2/s before the first step, not counted")
    add("--stop-p99", type=float, default=250.0, help="stop after the first step above this")
    add("--connections", type=int, default=16, help="wrk connections of the /healthz slices")
    add("--learners", type=int, default=0, help="default: enough for every step")
    add("--departments", type=int, default=50)
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
    args = parser.parse_args(argv)
    args.rate_list = [float(r) for r in args.rates.split(",") if r.strip()]
    return args


# --- what one learner does --------------------------------------------------------------------


@dataclass
class Sample:
    kind: str
    status: int
    expected: int
    ms: float


@dataclass
class StepLog:
    samples: list[Sample] = field(default_factory=list)
    errors: Counter[str] = field(default_factory=Counter)
    sessions_done: int = 0


async def _request(
    host: str,
    port: int,
    method: str,
    path: str,
    headers: dict[str, str],
    body: Any = None,
) -> tuple[int, float, bytes]:
    """One request on its own connection (gunicorn's sync workers close after each answer);
    (status, milliseconds, body)."""
    data = b"" if body is None else json.dumps(body, separators=(",", ":")).encode()
    head = f"{method} {path} HTTP/1.1\r\nHost: {host}:{port}\r\nConnection: close\r\n"
    head += "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    if body is not None:
        head += f"Content-Type: application/json\r\nContent-Length: {len(data)}\r\n"
    started = time.perf_counter()
    reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port), timeout=30)
    try:
        writer.write(head.encode() + b"\r\n" + data)
        await writer.drain()
        raw = await asyncio.wait_for(reader.read(), timeout=60)
    finally:
        writer.close()
    elapsed = (time.perf_counter() - started) * 1000
    header, _, payload = raw.partition(b"\r\n\r\n")
    status = int(header.split(b" ", 2)[1])
    if b"transfer-encoding: chunked" in header.lower():
        payload = _unchunk(payload)
    if b"content-encoding: gzip" in header.lower():
        payload = gzip.decompress(payload)
    return status, elapsed, payload


def _unchunk(payload: bytes) -> bytes:
    out = b""
    while payload:
        size_line, _, rest = payload.partition(b"\r\n")
        size = int(size_line.split(b";")[0], 16)
        if size == 0:
            break
        out += rest[:size]
        payload = rest[size + 2 :]
    return out


@dataclass(frozen=True)
class Arrival:
    learner: Learner
    refresh_token: str
    module: ModuleInfo


class ShiftStart:
    """The learners of one step, each on its own asyncio task, and the /healthz probe."""

    def __init__(self, host: str, port: int, args: argparse.Namespace, rng: random.Random):
        self.host, self.port, self.args, self.rng = host, port, args, rng
        self.log = StepLog()
        self.probe: list[Sample] = []

    def unexpected(self) -> Counter[str]:
        return (
            Counter(f"{s.kind} {s.status}" for s in self.log.samples if s.status != s.expected)
            + self.log.errors
        )

    async def call(
        self, kind: str, expected: int, method: str, path: str, headers: dict[str, str],
        body: Any = None,
    ) -> bytes | None:  # fmt: skip
        try:
            status, ms, payload = await _request(self.host, self.port, method, path, headers, body)
        except (OSError, TimeoutError, ValueError, IndexError) as error:
            self.log.errors[f"{kind}: {type(error).__name__}"] += 1
            return None
        self.log.samples.append(Sample(kind, status, expected, ms))
        return payload if status == expected else None

    async def think(self) -> None:
        if self.args.think > 0:
            await asyncio.sleep(self.args.think * self.rng.uniform(0.5, 1.5))

    async def learner(self, arrival: Arrival) -> None:
        language = self.rng.choice(LANGUAGES)
        plain = {"Accept-Encoding": "gzip", "Accept-Language": language}
        body = await self.call(
            "refresh", 200, "POST", f"{API}/auth/refresh", plain,
            {"refresh_token": arrival.refresh_token},
        )  # fmt: skip
        if body is None:
            return
        headers = {**plain, "Authorization": f"Bearer {json.loads(body)['access_token']}"}
        if await self.call("me", 200, "GET", f"{API}/me", headers) is None:
            return
        await self.think()
        if await self.call("paths", 200, "GET", f"{API}/paths/current", headers) is None:
            return
        await self.think()
        module = arrival.module
        if await self.call("module", 200, "GET", f"{API}/modules/{module.id}", headers) is None:
            return
        await self.think()
        started = await self.call(
            "start", 201, "POST", f"{API}/modules/{module.id}/attempts", headers
        )
        if started is None:
            return
        attempt_id = json.loads(started)["id"]
        for question in module.questions[: self.args.answers]:
            await self.think()
            right = self.rng.random() < 0.8
            choices = list(question.correct_choice_ids) if right else question.wrong_choice_ids()
            answer_headers = {**headers, "Idempotency-Key": secrets.token_hex(12)}
            answered = await self.call(
                "answer", 201, "POST", f"{API}/attempts/{attempt_id}/answers", answer_headers,
                {"question_id": question.id, "choice_ids": choices},
            )  # fmt: skip
            if answered is None:
                return
        await self.think()
        completed = await self.call(
            "complete", 200, "POST", f"{API}/attempts/{attempt_id}/complete",
            {**headers, "Idempotency-Key": secrets.token_hex(12)},
        )  # fmt: skip
        if completed is None:
            return
        await self.think()
        board = f"{API}/leaderboards/users?scope=department&window=week"
        if await self.call("board", 200, "GET", board, headers) is not None:
            self.log.sessions_done += 1

    async def probe_healthz(self, stop: asyncio.Event) -> None:
        interval = 1.0 / self.args.probe
        while not stop.is_set():
            try:
                status, ms, _ = await _request(self.host, self.port, "GET", "/healthz", {})
                self.probe.append(Sample("healthz", status, 200, ms))
            except (OSError, TimeoutError, ValueError, IndexError) as error:
                self.log.errors[f"healthz probe: {type(error).__name__}"] += 1
            await asyncio.sleep(interval * self.rng.uniform(0.5, 1.5))

    async def run(self, arrivals: list[Arrival], rate: float) -> float:
        """Arrivals at `rate` per second (Poisson); returns the seconds from the first
        arrival to the last answer."""
        stop = asyncio.Event()
        prober = asyncio.create_task(self.probe_healthz(stop)) if self.args.probe > 0 else None
        started = time.perf_counter()
        tasks = []
        for arrival in arrivals:
            tasks.append(asyncio.create_task(self.learner(arrival)))
            await asyncio.sleep(self.rng.expovariate(rate))
        await asyncio.gather(*tasks)
        elapsed = time.perf_counter() - started
        stop.set()
        if prober:
            await prober
        return elapsed


# --- CPU of this run's own processes ----------------------------------------------------------


def _own_pids(engine: Any, database: str, redis_url: str, app_pids: list[int]) -> dict[int, str]:
    """The app's workers, this database's PostgreSQL backends and this Redis server."""
    import redis as redis_lib
    from sqlalchemy import text

    with engine.connect() as conn:
        backends = conn.execute(
            text("SELECT pid FROM pg_stat_activity WHERE datname = :db"), {"db": database}
        ).scalars()
        pids = {int(pid): "postgres" for pid in backends}
    client = redis_lib.Redis.from_url(redis_url)
    pids[int(client.info("server")["process_id"])] = "redis"
    client.close()
    pids.update(dict.fromkeys(app_pids, "app"))
    return pids


def _cpu_seconds(pids: dict[int, str]) -> dict[int, float]:
    found = {pid: cpu._process_seconds(pid) for pid in pids}
    return {pid: value[1] for pid, value in found.items() if value is not None}


def _cpu_by_group(
    before: dict[int, float], after: dict[int, float], pids: dict[int, str]
) -> dict[str, float]:
    spent = {"app": 0.0, "postgres": 0.0, "redis": 0.0}
    for pid, seconds in after.items():
        spent[pids[pid]] += seconds - before.get(pid, 0.0)
    return spent


# --- the run ----------------------------------------------------------------------------------


def _pct(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


@dataclass
class Step:
    rate: float
    learners: int
    seconds: float
    log: StepLog
    probe: list[Sample]
    healthz: LoadResult
    healthz_app_ms: float
    cpu_s: dict[str, float]
    load: tuple[float, float, float]

    def latencies(self, kind: str | None = None) -> list[float]:
        return [s.ms for s in self.log.samples if kind is None or s.kind == kind]

    def unexpected(self) -> Counter[str]:
        return (
            Counter(f"{s.kind} {s.status}" for s in self.log.samples if s.status != s.expected)
            + self.log.errors
        )

    def as_dict(self) -> dict[str, Any]:
        all_ms = self.latencies()
        per_kind = {
            kind: {
                "requests": len(self.latencies(kind)),
                "p50_ms": round(_pct(self.latencies(kind), 0.5), 1),
                "p99_ms": round(_pct(self.latencies(kind), 0.99), 1),
            }
            for kind in KINDS
        }
        requests = len(all_ms)
        return {
            "rate_learners_per_s": self.rate,
            "learners": self.learners,
            "learners_done": self.log.sessions_done,
            "seconds": round(self.seconds, 1),
            "requests": requests,
            "rps": round(requests / self.seconds, 1) if self.seconds else 0.0,
            "p50_ms": round(_pct(all_ms, 0.5), 1),
            "p99_ms": round(_pct(all_ms, 0.99), 1),
            "per_kind": per_kind,
            "problems": dict(self.unexpected()),
            "healthz_probe": {
                "requests": len(self.probe),
                "p50_ms": round(_pct([s.ms for s in self.probe], 0.5), 1),
                "p99_ms": round(_pct([s.ms for s in self.probe], 0.99), 1),
            },
            "healthz_wrk": {
                "rps": round(self.healthz.rps, 1),
                "p50_ms": self.healthz.latency_ms["p50"],
                "p99_ms": self.healthz.latency_ms["p99"],
                "app_cpu_ms_per_request": round(self.healthz_app_ms, 3),
            },
            "cpu_seconds": {k: round(v, 2) for k, v in self.cpu_s.items()},
            "cpu_ms_per_learner": {
                k: round(v * 1000 / max(1, self.log.sessions_done), 1)
                for k, v in self.cpu_s.items()
            },
            "app_cpu_ms_per_request": round(self.cpu_s["app"] * 1000 / max(1, requests), 3),
            "load_average": list(self.load),
        }


def pick_modules(engine: Any, modules: list[ModuleInfo], answers: int) -> list[ModuleInfo]:
    """Modules a learner can start right away at a shift start: in this week's first path
    (mandatory, not sequential) and not the second (sequential), without prerequisites, with
    at least `answers` questions."""
    from sqlalchemy import select
    from sqlalchemy.orm import Session

    from app.content.models import ModuleVersion

    ordered = sorted(modules, key=lambda m: m.key)
    first, second = ordered[0:10], ordered[4:14]  # as PathsCurrent.prepare schedules them
    candidates = [m for m in first if m not in second and len(m.questions) >= answers]
    with Session(engine) as session:
        free = {
            version.id
            for version in session.scalars(
                select(ModuleVersion).where(
                    ModuleVersion.id.in_([m.version_id for m in candidates])
                )
            )
            if not version.prerequisites
        }
    chosen = [m for m in candidates if m.version_id in free]
    if not chosen:
        raise RuntimeError("no module of this week's first path can be started at once")
    return chosen


def mint_refresh_tokens(engine: Any, learners: list[Learner]) -> dict[str, str]:
    """A refresh token per learner on their seeded login (as a login yesterday left it)."""
    from sqlalchemy import insert, select
    from sqlalchemy.orm import Session

    from app.auth.models import LoginSession, RefreshToken
    from app.auth.tokens import hash_refresh_token, new_refresh_token

    now = datetime.now(UTC)
    tokens: dict[str, str] = {}
    with Session(engine) as session:
        logins = {user_id: login_id for user_id, login_id in session.execute(
            select(LoginSession.user_id, LoginSession.id))}  # fmt: skip
        rows = []
        for learner in learners:
            token = new_refresh_token()
            tokens[learner.id] = token
            rows.append(
                {
                    "token_hash": hash_refresh_token(token),
                    "session_id": logins[learner.id],
                    "issued_at": now - timedelta(hours=12),
                    "expires_at": now + timedelta(days=29),
                }
            )
        for start in range(0, len(rows), 10_000):
            session.execute(insert(RefreshToken), rows[start : start + 10_000])
        session.commit()
    return tokens


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    from benchmarks import run

    stamp = datetime.now(UTC)
    secret_key = secrets.token_urlsafe(48)
    database = BenchDatabase(args.pg_admin_url, default_database_name())
    run_args = run.parse_args(["--redis-url", args.redis_url])
    env = run.server_env(run_args, database.url, secret_key)
    # Every learner of the load comes from 127.0.0.1; a chain's come from thousands of store
    # networks. The per-address refresh limit still runs (a Redis round trip), never answers 429.
    env["LOGIN_LIMIT_PER_IP"] = "1000000/minute"
    os.environ.update({k: env[k] for k in run._APP_KEYS})
    from app.db import make_engine

    needed = args.warmup + sum(int(rate * args.window * 1.3) + 20 for rate in args.rate_list)
    learners = args.learners or needed
    regions = 5 if args.departments >= 10 else 1
    generator = pick_generator(args.loadgen, wrk_threads=2)
    config = ServerConfig(workers=args.workers)
    log_path = WORK / f"gunicorn-shiftstart-{stamp:%Y%m%dT%H%M%S}.log"
    database.create()
    engine = make_engine(database.url)
    steps: list[Step] = []
    try:
        database.migrate(engine)
        reset_redis(args.redis_url)
        data = seed(
            engine,
            learners=learners,
            regions=regions,
            stores_per_region=max(1, args.departments // regions - 1),
            content_dir=ROOT / "content",
            media_dir=WORK / "media",
            secret_key=secret_key,
            token_lifetime=timedelta(hours=2),
        )
        refresh_tokens = mint_refresh_tokens(engine, data.learners)
        modules = pick_modules(engine, data.modules, args.answers)
        print(
            f"seeded {len(data.learners)} learners in {data.department_count} departments; "
            f"modules to start: {', '.join(m.key for m in modules)}; "
            f"/healthz slices by {generator.name}",
            flush=True,
        )
        rng = random.Random(20261206)
        queue = list(data.learners)
        rng.shuffle(queue)
        with GunicornServer(root=ROOT, env=env, config=config, log_path=log_path) as server:
            bench = Bench(
                seed=data,
                engine=engine,
                base_url=server.base_url,
                connections=args.connections,
                extra={"redis_url": args.redis_url, "points_per_learner": 3},
            )
            SCENARIOS["leaderboard-users"]().prepare(bench)
            SCENARIOS["paths-current"]().prepare(bench)

            def arrivals(count: int) -> list[Arrival]:
                return [
                    Arrival(learner, refresh_tokens[learner.id], rng.choice(modules))
                    for learner in (queue.pop() for _ in range(count))
                ]

            if args.warmup:
                # Each worker's process caches (versions, this week's paths, boards) fill
                # once; a serving process has them. Every measured learner is still new.
                warm = ShiftStart("127.0.0.1", server.port, args, rng)
                asyncio.run(warm.run(arrivals(args.warmup), 2.0))
                print(f"warm-up: {warm.log.sessions_done} learners, {dict(warm.unexpected())}")
            for rate in args.rate_list:
                count = max(1, round(rate * args.window))
                step_arrivals = arrivals(count)
                # /healthz alone first: this moment's baseline.
                before = cpu.snapshot(server.worker_pids())
                healthz = generator.run(
                    server.base_url,
                    Healthz().workload(bench, 0),
                    connections=args.connections,
                    duration=args.healthz_seconds,
                )
                after = cpu.snapshot(server.worker_pids())
                healthz_app_ms = (
                    cpu.cores_used(before, after).get("app", 0.0)
                    * (after.wall - before.wall)
                    * 1000
                    / max(1, healthz.requests)
                )
                run._settle(healthz)
                pids = _own_pids(engine, database.name, args.redis_url, server.worker_pids())
                shift = ShiftStart("127.0.0.1", server.port, args, rng)
                cpu_before = _cpu_seconds(pids)
                seconds = asyncio.run(shift.run(step_arrivals, rate))
                # Backends the pool opened during the step count in full.
                pids = {
                    **_own_pids(engine, database.name, args.redis_url, server.worker_pids()),
                    **pids,
                }
                spent = _cpu_by_group(cpu_before, _cpu_seconds(pids), pids)
                step = Step(
                    rate, count, seconds, shift.log, shift.probe, healthz, healthz_app_ms,
                    spent, os.getloadavg(),
                )  # fmt: skip
                steps.append(step)
                _print_step(step)
                if step.as_dict()["p99_ms"] > args.stop_p99:
                    break
    finally:
        engine.dispose()
        if args.keep:
            print(f"kept database {database.name} and {log_path}")
        else:
            database.drop()
            reset_redis(args.redis_url)
            log_path.unlink(missing_ok=True)
    return _report(args, stamp, steps)


def _print_step(step: Step) -> None:
    d = step.as_dict()
    print(
        f"  {step.rate:5g}/s: {d['learners_done']}/{d['learners']} learners, "
        f"{d['rps']:6.1f} req/s, p50 {d['p50_ms']:6.1f} ms, p99 {d['p99_ms']:7.1f} ms; "
        f"/healthz {d['healthz_wrk']['rps']:.0f} req/s, probe p99 "
        f"{d['healthz_probe']['p99_ms']} ms; CPU ms/learner {d['cpu_ms_per_learner']}; "
        f"load {d['load_average'][0]:.1f}; problems {d['problems']}",
        flush=True,
    )


def _report(args: argparse.Namespace, stamp: datetime, steps: list[Step]) -> int:
    if not steps:
        return 1
    rows = [s.as_dict() for s in steps]
    lines = [
        f"# Shift start: learners opening the app within {args.window:g} s "
        f"({stamp:%Y-%m-%d %H:%M} UTC)",
        "",
        f"Each learner: refresh, `GET /me`, `/paths/current`, `GET /modules/{{id}}`, start, "
        f"{args.answers} answers, complete, the department board; {args.think:g} s (± half) "
        f"between requests; {args.workers} sync gunicorn workers; `/healthz` under wrk "
        f"({args.connections} connections, {args.healthz_seconds:g} s) right before each step "
        f"and probed {args.probe:g}/s during it.",
        "",
        "| learners/s | learners (done) | req/s | p50 ms | p99 ms | /healthz req/s (alone) "
        "| /healthz probe p50/p99 ms | app CPU ms/req (healthz) | CPU ms per learner: "
        "app / PostgreSQL / Redis | load (1 min) | problems |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for d in rows:
        cpu_learner = d["cpu_ms_per_learner"]
        lines.append(
            f"| {d['rate_learners_per_s']:g} | {d['learners']} ({d['learners_done']}) "
            f"| {d['rps']:.1f} | {d['p50_ms']:.1f} | {d['p99_ms']:.1f} "
            f"| {d['healthz_wrk']['rps']:,.0f} "
            f"| {d['healthz_probe']['p50_ms']:.1f} / {d['healthz_probe']['p99_ms']:.1f} "
            f"| {d['app_cpu_ms_per_request']:.2f} "
            f"({d['healthz_wrk']['app_cpu_ms_per_request']:.2f}) "
            f"| {cpu_learner['app']:.1f} / {cpu_learner['postgres']:.1f} / "
            f"{cpu_learner['redis']:.1f} | {d['load_average'][0]:.1f} "
            f"| {d['problems'] or '—'} |"
        )
    lines += ["", "p50 / p99 ms per request type:", ""]
    lines.append("| learners/s | " + " | ".join(KINDS) + " |")
    lines.append("|---|" + "---|" * len(KINDS))
    for d in rows:
        cells = [
            f"{d['per_kind'][k]['p50_ms']:.0f} / {d['per_kind'][k]['p99_ms']:.0f}" for k in KINDS
        ]
        lines.append(f"| {d['rate_learners_per_s']:g} | " + " | ".join(cells) + " |")
    passed = [d for d in rows if d["p99_ms"] > args.stop_p99]
    lines += [
        "",
        (
            f"p99 passed {args.stop_p99:g} ms at {passed[0]['rate_learners_per_s']:g} learners/s."
            if passed
            else f"p99 stayed under {args.stop_p99:g} ms at every rate tried."
        ),
        "",
        f"Machine: {os.cpu_count()} cores shared with PostgreSQL, Redis, the load generator "
        "(this process), wrk and other people's test runs; the load average is read at the "
        "end of each step. CPU per learner counts this run's gunicorn workers, its own "
        "PostgreSQL backends and its own Redis server only.",
    ]
    text = "\n".join(lines)
    print("\n" + text)
    if not args.no_write:
        args.results.mkdir(parents=True, exist_ok=True)
        base = args.results / f"{stamp:%Y-%m-%d_%H%M}_shiftstart"
        base.with_suffix(".md").write_text(text + "\n")
        options = {k: v for k, v in vars(args).items() if k != "results"}
        payload = {"args": options, "steps": rows}
        base.with_suffix(".json").write_text(json.dumps(payload, indent=1, default=str) + "\n")
        print(f"\nwritten: {base.relative_to(ROOT)}.md, .json")
    return 0 if all(not d["problems"] for d in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
