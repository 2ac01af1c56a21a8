"""Push fan-out benchmark (issue 6): "this week's path is out" to N devices through a fake FCM.

`make bench-fanout` (or `.venv/bin/python benchmarks/fanout.py --help`). Creates PostgreSQL
database `nl_bench3_fanout_<pid>` (dropped at the end), migrates it, seeds one organisation
with N learners and one device each (SQLAlchemy Core bulk inserts) and a path for the current
week for everyone, starts the tests' fake FCM endpoint in this process, then:

1. times `jobs.send_weekly_path_start()` — the audience query, `notify` writing one outbox row
   per user, the commit and the RQ `deliver_due` jobs enqueued after it;
2. runs ONE real worker, `flask --app wsgi worker --burst` (a separate process, RQ's
   SimpleWorker), with the real `FcmPushSender` (firebase-admin) pointed at the fake through
   `FCM_ENDPOINT` and a generated service account in `FCM_CREDENTIALS`, and measures messages
   per second from the fake's own count of received messages.

Then it checks the outbox: every row delivered, exactly one push per notification.

Time: the real clock (the worker runs in its own process). The organisation's quiet hours are
set to none (`start == end`), so nothing is deferred at any hour — except on Monday before
08:00 local time, when `path_start` waits for 08:00 by design: the run refuses then.
"""

from __future__ import annotations

import argparse
import os
import re
import secrets
import shutil
import subprocess
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
WORK = ROOT / "benchmarks" / ".work"
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))  # `python benchmarks/fanout.py` from anywhere

import psycopg  # noqa: E402
import redis  # noqa: E402

NAME_PATTERN = re.compile(r"^nl_bench3_[a-z0-9_]{1,40}$")
TARGET = 2000  # messages per second per worker (issue 6)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add = parser.add_argument
    add("--users", type=int, default=100_000, help="learners, one device each (%(default)s)")
    add("--quick", action="store_true", help="5 000 users: a check that everything works")
    add(
        "--pg-admin-url",
        default=os.environ.get("BENCH_PG_ADMIN_URL", "postgresql://root@127.0.0.1:5432/postgres"),
    )
    add(
        "--redis-url", default=os.environ.get("BENCH_FANOUT_REDIS_URL", "redis://127.0.0.1:6379/11")
    )
    add("--db-name", default=f"nl_bench3_fanout_{os.getpid()}")
    add("--keep", action="store_true", help="keep the database afterwards")
    add(
        "--close-connections",
        action="store_true",
        help="the fake answers HTTP/1.0 and closes every connection (as the tests' fake does); "
        "default: HTTP/1.1 keep-alive, like FCM",
    )
    add("--profile", action="store_true", help="sample the worker with py-spy (on-CPU)")
    add("--idle", action="store_true", help="with --profile: wall clock, including waiting")
    add("--profile-enqueue", action="store_true", help="cProfile the enqueue (in this process)")
    add("--enqueue-only", action="store_true", help="stop after the enqueue (no worker)")
    args = parser.parse_args(argv)
    if args.quick:
        args.users = 5000
    if not NAME_PATTERN.match(args.db_name):
        parser.error(f"database names are nl_bench3_*, not {args.db_name!r}")
    return args


# --- database -----------------------------------------------------------------------------------


def db_url(admin_url: str, name: str) -> str:
    base, _, _ = admin_url.rpartition("/")
    return f"{base}/{name}"


def create_database(admin_url: str, name: str) -> None:
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def drop_database(admin_url: str, name: str) -> None:
    assert NAME_PATTERN.match(name)
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@dataclass
class Seeded:
    org_id: str
    path_id: str
    users: int
    seconds: float


def seed(url: str, users: int) -> Seeded:
    """One organisation without quiet hours, one department, N learners with a device each, and
    a path for the current week (organisation time zone) assigned to everyone."""
    from sqlalchemy import insert

    from app import clock
    from app.db import make_engine, new_id
    from app.notifications.models import Device
    from app.orgs.models import Department, Organization, User
    from app.paths import rules as path_rules
    from app.paths.models import LearningPath

    started = time.perf_counter()
    now = clock.now()
    engine = make_engine(url)
    org_id, dept_id, path_id = new_id(), new_id(), new_id()
    timezone = "Europe/Oslo"
    platforms = ("android", "ios", "web")
    with engine.begin() as conn:
        conn.execute(
            insert(Organization.__table__),  # type: ignore[arg-type]
            {
                "id": org_id,
                "slug": "fanout",
                "name": "Fan-out AS",
                "timezone": timezone,
                "default_locale": "nb",
                # start == end: no quiet hours, so nothing is deferred whenever this runs.
                "settings": {"notifications": {"quiet_hours": {"start": "00:00", "end": "00:00"}}},
                "created_at": now,
            },
        )
        conn.execute(
            insert(Department.__table__),  # type: ignore[arg-type]
            {"id": dept_id, "org_id": org_id, "name": "Alle butikker", "created_at": now},
        )
        for start in range(0, users, 5000):
            people = [
                {
                    "id": new_id(),
                    "org_id": org_id,
                    "username": f"learner{n:06d}",
                    "display_name": f"Ansatt {n}",
                    "password_hash": "!",
                    "department_id": dept_id,
                    "roles": ["learner"],
                    "locale": "en" if n % 4 == 0 else None,
                    "timezone": None,
                    "quiet_hours_start": None,
                    "quiet_hours_end": None,
                    "active": True,
                    "created_at": now,
                    "last_active_at": None,
                }
                for n in range(start, min(start + 5000, users))
            ]
            conn.execute(insert(User.__table__), people)  # type: ignore[arg-type]
            conn.execute(
                insert(Device.__table__),  # type: ignore[arg-type]
                [
                    {
                        "id": new_id(),
                        "org_id": org_id,
                        "user_id": person["id"],
                        "installation_id": f"install-{person['username']}",
                        # About the length of a real FCM registration token.
                        "token": f"bench{secrets.token_urlsafe(120)}"[:163],
                        "platform": platforms[i % 3],
                        "app_version": "1.4.0",
                        "created_at": now,
                        "last_seen_at": now,
                    }
                    for i, person in enumerate(people)
                ],
            )
        conn.execute(
            insert(LearningPath.__table__),  # type: ignore[arg-type]
            {
                "id": path_id,
                "org_id": org_id,
                "title": "Ukens sti: Kassa og kundeservice",
                "week": path_rules.week_of(now, timezone),
                "onboarding_week": None,
                "audience_department_ids": [],
                "audience_roles": [],
                "due_at": None,
                "sequential": False,
                "created_at": now,
            },
        )
    engine.dispose()
    return Seeded(org_id, path_id, users, time.perf_counter() - started)


# --- the fake FCM -------------------------------------------------------------------------------


@dataclass
class Progress:
    """The fake's count of received messages over time, sampled every 50 ms."""

    first_at: float | None = None
    last_at: float | None = None
    samples: list[tuple[float, int]] = field(default_factory=list)


def watch(fake: Any, stop: threading.Event, progress: Progress) -> None:
    seen = 0
    while not stop.wait(0.05):
        count = len(fake.messages)
        at = time.perf_counter()
        if count and progress.first_at is None:
            progress.first_at = at
        if count != seen:
            progress.last_at = at
            seen = count
            progress.samples.append((at, count))


# --- profiling ----------------------------------------------------------------------------------


def summarize_profile(raw: Path, top: int = 25) -> str:
    """Inclusive and self shares of py-spy's raw (collapsed) stacks, over every thread."""
    inclusive: Counter[str] = Counter()
    own: Counter[str] = Counter()
    total = 0
    for line in raw.read_text(errors="replace").splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not count_text.isdigit():
            continue
        count = int(count_text)
        frames = [_short(f) for f in stack.split(";")]
        total += count
        for name in set(frames):
            inclusive[name] += count
        own[frames[-1]] += count
    if not total:
        return "no samples"
    out = [f"{total} samples", "", "inclusive:"]
    out += [f"  {n / total:6.1%}  {name}" for name, n in inclusive.most_common(top)]
    out += ["", "self (leaf frames):"]
    out += [f"  {n / total:6.1%}  {name}" for name, n in own.most_common(top)]
    return "\n".join(out)


def _short(frame: str) -> str:
    for marker in ("site-packages/", "/wt/bench3/", "python3.11/"):
        if marker in frame:
            head, _, tail = frame.partition("(")
            return f"{head}({tail.split(marker, 1)[1]}" if marker in tail else frame
    return frame


# --- the run ------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    url = db_url(args.pg_admin_url, args.db_name)
    os.environ["DATABASE_URL"] = url
    os.environ["REDIS_URL"] = args.redis_url
    os.environ.setdefault("LOG_LEVEL", "WARNING")

    from tests.notifications.fake_fcm import FakeFcm

    WORK.mkdir(parents=True, exist_ok=True)
    started_at = datetime.now(UTC)
    print(f"fan-out to {args.users:,} devices; database {args.db_name}, Redis {args.redis_url}")
    create_database(args.pg_admin_url, args.db_name)
    fake = None
    try:
        from app.db import make_engine
        from app.migrate import upgrade

        engine = make_engine(url)
        upgrade(engine)
        engine.dispose()
        client = redis.Redis.from_url(args.redis_url)
        client.flushdb()

        seeded = seed(url, args.users)
        print(f"seeded {seeded.users:,} users + devices and a path in {seeded.seconds:.1f} s")

        fake = FakeFcm()
        if not args.close_connections:
            # Keep-alive, as FCM does: the tests' fake speaks HTTP/1.0 (a connection per message).
            fake.server.RequestHandlerClass.protocol_version = "HTTP/1.1"  # type: ignore[attr-defined]
        fake.start()
        import json

        credentials = json.dumps(fake.service_account())
        os.environ["FCM_CREDENTIALS"] = credentials
        os.environ["FCM_ENDPOINT"] = fake.url

        enqueue = run_enqueue(args.users, profile=args.profile_enqueue)
        if enqueue["deferred"]:
            print("some pushes are deferred (Monday before 08:00 Oslo time?): not comparable")
            return 2
        queued_jobs = client.llen("rq:queue:default")
        print(
            f"enqueue: {enqueue['created']:,} outbox rows in {enqueue['seconds']:.2f} s "
            f"(audience {enqueue['audience_seconds']:.2f} s), {queued_jobs} RQ jobs queued"
        )

        if args.enqueue_only:
            return 0
        worker = run_worker(args, fake, credentials)
        outbox = check_outbox(url)
        received = len(fake.messages)
        ids = Counter(m["data"]["notification_id"] for m in fake.messages)
        twice = sum(1 for n in ids.values() if n > 1)
        result = {
            **enqueue,
            **worker,
            "users": args.users,
            "queued_jobs": queued_jobs,
            "received": received,
            "distinct": len(ids),
            "twice": twice,
            "outbox": outbox,
            "token_requests": fake.token_requests,
            "started_at": started_at,
            "keep_alive": not args.close_connections,
        }
        print()
        print(table(result))
        problems = verify(result)
        for problem in problems:
            print(f"PROBLEM: {problem}")
        if worker.get("profile"):
            print()
            print(worker["profile"])
        return 1 if problems else 0
    finally:
        if fake is not None:
            fake.stop()
        if args.keep:
            print(f"kept database {args.db_name}")
        else:
            drop_database(args.pg_admin_url, args.db_name)


def run_enqueue(users: int, *, profile: bool = False) -> dict[str, Any]:
    """The hourly job as the worker's cron runs it, timed; plus the audience query alone."""
    from sqlalchemy import func, select

    from app import clock, create_app, db
    from app.notifications import jobs, providers
    from app.notifications.models import Notification

    app = create_app()
    with app.app_context():
        session = db.session()
        t0 = time.perf_counter()
        groups = providers.weekly_path_recipients(session, now=clock.now())
        audience_seconds = time.perf_counter() - t0
        session.rollback()
        db.session.remove()
        assert sum(len(g.user_ids) for g in groups) == users, "the path's audience is not everyone"

        profiler = None
        if profile:
            import cProfile

            profiler = cProfile.Profile()
            profiler.enable()
        t0 = time.perf_counter()
        created = jobs.send_weekly_path_start()
        seconds = time.perf_counter() - t0
        if profiler is not None:
            import pstats

            profiler.disable()
            stats = pstats.Stats(profiler).strip_dirs().sort_stats("cumulative")
            stats.print_stats(35)
            stats.sort_stats("tottime").print_stats(20)

        now = clock.now()
        session = db.session()
        deferred = session.scalar(
            select(func.count()).where(
                Notification.status == "pending", Notification.deliver_after > now
            )
        )
        db.session.remove()
        app.extensions["engine"].dispose()
    return {
        "created": created,
        "seconds": seconds,
        "audience_seconds": audience_seconds,
        "deferred": deferred or 0,
    }


def run_worker(args: argparse.Namespace, fake: Any, credentials: str) -> dict[str, Any]:
    """One `flask --app wsgi worker --burst` until the queue is empty; the fake counts."""
    env = {
        **os.environ,
        "DATABASE_URL": db_url(args.pg_admin_url, args.db_name),
        "REDIS_URL": args.redis_url,
        "FCM_CREDENTIALS": credentials,
        "FCM_ENDPOINT": fake.url,
    }
    flask = str(Path(sys.executable).with_name("flask"))
    log = WORK / f"fanout-worker-{os.getpid()}.log"
    progress = Progress()
    stop = threading.Event()
    watcher = threading.Thread(target=watch, args=(fake, stop, progress), daemon=True)
    watcher.start()
    t0 = time.perf_counter()
    cpu0 = os.times()
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [flask, "--app", "wsgi", "worker", "--burst"],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        spy = None
        raw = WORK / f"fanout-profile-{os.getpid()}.txt"
        if args.profile:
            binary = Path(sys.executable).with_name("py-spy")
            spy_path = str(binary) if binary.exists() else shutil.which("py-spy")
            if spy_path is None:
                raise RuntimeError("py-spy is not installed: .venv/bin/pip install py-spy")
            spy = subprocess.Popen(
                [
                    spy_path, "record", "--pid", str(proc.pid), "--rate", "100",
                    "--format", "raw", "--output", str(raw), "--nonblocking",
                    *(["--idle"] if args.idle else []),
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )  # fmt: skip
        code = proc.wait()
        cpu1 = os.times()  # before py-spy is reaped: its CPU is not the worker's
        if spy is not None:
            spy.wait(timeout=60)
    wall = time.perf_counter() - t0
    stop.set()
    watcher.join()
    if code != 0:
        raise RuntimeError(f"the worker failed ({code}); see {log}")
    delivering = (
        (progress.last_at - progress.first_at)
        if progress.first_at and progress.last_at
        else float("nan")
    )
    worker_cpu = (cpu1.children_user + cpu1.children_system) - (
        cpu0.children_user + cpu0.children_system
    )
    result: dict[str, Any] = {
        "worker_wall": wall,
        "delivering": delivering,
        "first_after": (progress.first_at or t0) - t0,
        "worker_cpu": worker_cpu,
        "log": str(log),
    }
    if args.profile and raw.exists():
        result["profile"] = summarize_profile(raw)
    return result


def check_outbox(url: str) -> dict[str, int]:
    """Rows per status, and pushes recorded (devices_sent) in total."""
    with psycopg.connect(url) as conn:
        statuses = dict(
            conn.execute("SELECT status, count(*) FROM notifications GROUP BY status").fetchall()
        )
        sent = conn.execute("SELECT coalesce(sum(devices_sent), 0) FROM notifications").fetchone()
        devices = conn.execute("SELECT count(*) FROM devices").fetchone()
    return {
        **{str(k): int(v) for k, v in statuses.items()},
        "devices_sent": int(sent[0]) if sent else 0,
        "devices_left": int(devices[0]) if devices else 0,
    }


def verify(result: dict[str, Any]) -> list[str]:
    problems = []
    users = result["users"]
    outbox = result["outbox"]
    if result["created"] != users:
        problems.append(f"{result['created']:,} outbox rows written for {users:,} users")
    if outbox.get("delivered", 0) != users:
        problems.append(f"outbox: {outbox} — not every row delivered")
    if result["received"] != users or result["distinct"] != users:
        problems.append(
            f"the fake received {result['received']:,} messages for "
            f"{result['distinct']:,} notifications (expected {users:,} each)"
        )
    if result["twice"]:
        problems.append(f"{result['twice']:,} notifications pushed more than once")
    if outbox.get("devices_sent") != users:
        problems.append(f"devices_sent totals {outbox.get('devices_sent')}, not {users:,}")
    return problems


def table(r: dict[str, Any]) -> str:
    per_worker = r["received"] / r["worker_wall"] if r["worker_wall"] else 0.0
    steady = r["received"] / r["delivering"] if r["delivering"] else 0.0
    met = "met" if per_worker >= TARGET else "**missed**"
    outbox = ", ".join(f"{k} {v:,}" for k, v in sorted(r["outbox"].items()))
    received = f"{r['received']:,} / {r['distinct']:,} / {r['twice']:,}"
    rows = [
        ("date", r["started_at"].strftime("%Y-%m-%d %H:%M UTC")),
        ("devices (users, 1 device each)", f"{r['users']:,}"),
        (
            "enqueue: send_weekly_path_start (audience + notify + commit + RQ enqueue)",
            f"{r['seconds']:.2f} s ({r['created'] / r['seconds']:,.0f} rows/s)",
        ),
        ("  of which the audience (current_path_audiences)", f"{r['audience_seconds']:.2f} s"),
        ("RQ deliver_due jobs queued", f"{r['queued_jobs']}"),
        ("fake FCM connection", "HTTP/1.1 keep-alive" if r["keep_alive"] else "HTTP/1.0"),
        ("worker wall time (process start to burst exit)", f"{r['worker_wall']:.1f} s"),
        ("  first push after worker start", f"{r['first_after']:.1f} s"),
        ("  first to last push received", f"{r['delivering']:.1f} s"),
        ("worker CPU time (user + system)", f"{r['worker_cpu']:.1f} s"),
        ("messages/s per worker (whole worker run)", f"{per_worker:,.0f}"),
        ("messages/s per worker (first to last push)", f"{steady:,.0f}"),
        (f"target ≥ {TARGET:,} msgs/s per worker", met),
        ("fake FCM: received / distinct notifications / twice", received),
        ("fake FCM: OAuth token requests", f"{r['token_requests']}"),
        ("outbox final state", outbox),
    ]  # fmt: skip
    lines = ["| measure | value |", "|---|---|"]
    lines += [f"| {name} | {value} |" for name, value in rows]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
