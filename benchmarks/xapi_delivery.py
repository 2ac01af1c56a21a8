"""xAPI delivery benchmark: statements per second one worker delivers to a local LRS stand-in.

`.venv/bin/python benchmarks/xapi_delivery.py` (`--help` for the options). Creates PostgreSQL
database `nl_bench4_xapi_<pid>` (dropped at the end), migrates it, seeds one organisation with
`--learners` learners, connects its LRS to a stand-in served from this process (a small
threaded HTTP server that parses each POST, counts its statements and answers their ids, as
an LRS does), writes `--statements` realistic `answered` statements to the outbox through
`app.outbox.service.add` (as the answer endpoint does), then runs ONE real worker,
`flask --app wsgi worker --burst --no-cron` (a separate process), and measures statements per
second from the stand-in's own count, first POST to last. Then it checks: every statement
arrived exactly once, in order per learner, and the outbox is empty.
"""

from __future__ import annotations

import argparse
import os
import random
import resource
import secrets
import subprocess
import sys
import threading
import time
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import orjson  # noqa: E402
from cryptography.fernet import Fernet  # noqa: E402

from benchmarks.harness.database import BenchDatabase  # noqa: E402

TARGET = 2000  # statements per second per worker (issue 17)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add = parser.add_argument
    add("--statements", type=int, default=50_000, help="statements to deliver (%(default)s)")
    add("--learners", type=int, default=2_000, help="learners they are about (%(default)s)")
    add("--batch-size", type=int, default=250, help="XAPI_BATCH_SIZE (%(default)s)")
    add(
        "--pg-admin-url",
        default=os.environ.get("BENCH_PG_ADMIN_URL", "postgresql://root@127.0.0.1:5432/postgres"),
    )
    add("--redis-url", default=os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/13"))
    add("--keep", action="store_true", help="keep the database")
    return parser.parse_args(argv)


class StandIn:
    """A minimal LRS: POST /xapi/statements counts statements and answers their ids."""

    def __init__(self) -> None:
        self.received: list[tuple[str, str]] = []  # (learner, statement id), in arrival order
        self.posts = 0
        self.first: float | None = None
        self.last: float | None = None
        self.lock = threading.Lock()
        stand_in = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                statements = orjson.loads(body)
                ids = [s["id"] for s in statements]
                with stand_in.lock:
                    now = time.monotonic()
                    stand_in.first = stand_in.first or now
                    stand_in.last = now
                    stand_in.posts += 1
                    stand_in.received.extend(
                        (s["actor"]["account"]["name"], s["id"]) for s in statements
                    )
                answer = orjson.dumps(ids)
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


def seed(args: argparse.Namespace, url: str, endpoint: str) -> dict[str, list[str]]:
    """The organisation, its learners, its LRS, and the statements in the outbox."""
    from sqlalchemy import insert

    from app import create_app, db
    from app.db import new_id
    from app.interop import service as xapi
    from app.interop import statements
    from app.orgs.models import Organization, User
    from app.outbox import service as outbox

    app = create_app({"DATABASE_URL": url, "REDIS_URL": args.redis_url})
    expected: dict[str, list[str]] = defaultdict(list)
    with app.app_context():
        session = db.session()
        org = Organization(slug="bench", name="Bench Dagligvare")
        session.add(org)
        session.flush()
        users = [
            {"id": new_id(), "org_id": org.id, "username": f"l{i}", "display_name": f"L {i}",
             "password_hash": "x", "roles": ["learner"]}
            for i in range(args.learners)
        ]  # fmt: skip
        session.execute(insert(User), users)
        xapi.configure(session, org_id=org.id, endpoint=endpoint, username="bench",
                       password="bench-password", enabled=True, now=datetime.now(UTC))  # fmt: skip
        session.commit()
        iris = statements.Iris("https://learn.example.org")
        module = statements.ModuleFacts("01JMODULE0000000000000000", 3, "Kjølekjeden", "nb",
                                        "01JPATH00000000000000000000", "Uke 49")  # fmt: skip
        question = statements.QuestionFacts(
            "q1", "Hvor kaldt skal kjølevarer være?",
            (("c1", "0–4 °C"), ("c2", "8–10 °C"), ("c3", "12 °C")), ("c1",),
        )  # fmt: skip
        rng = random.Random(17)
        at = datetime.now(UTC) - timedelta(hours=1)
        chunk: list[outbox.NewMessage] = []
        for n in range(args.statements):
            user = users[rng.randrange(len(users))]
            who = statements.Who(user["id"], org.id, "bench", "Bench Dagligvare", None)
            statement = statements.answered(
                iris, who, module, question, attempt_id=new_id(), choice_ids=["c1"],
                correct=True, at=at + timedelta(milliseconds=n),
                statement_id=statements.new_statement_id(),
            )  # fmt: skip
            expected[user["id"]].append(statement["id"])
            chunk.append(outbox.NewMessage(org.id, user["id"], statement))
            if len(chunk) == 5000:
                outbox.add(session, channel="xapi", messages=chunk, now=datetime.now(UTC))
                session.commit()
                chunk = []
        outbox.add(session, channel="xapi", messages=chunk, now=datetime.now(UTC))
        session.commit()
    return expected


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    database = BenchDatabase(args.pg_admin_url, f"nl_bench4_xapi_{os.getpid()}")
    key = Fernet.generate_key().decode()
    os.environ["ENCRYPTION_KEYS"] = key
    os.environ["SECRET_KEY"] = secrets.token_urlsafe(32)
    stand_in = StandIn()
    endpoint = f"http://127.0.0.1:{stand_in.port}/xapi/"
    database.create()
    try:
        from app.db import make_engine

        engine = make_engine(database.url)
        database.migrate(engine)
        engine.dispose()
        import redis

        redis.Redis.from_url(args.redis_url).flushdb()
        started = time.monotonic()
        expected = seed(args, database.url, endpoint)
        print(f"seeded {args.statements} statements for {args.learners} learners "
              f"in {time.monotonic() - started:.1f}s")  # fmt: skip
        env = {
            **os.environ,
            "DATABASE_URL": database.url,
            "REDIS_URL": args.redis_url,
            "XAPI_BATCH_SIZE": str(args.batch_size),
            "FLASK_APP": "wsgi",
            "LOG_JSON": "0",
        }
        load_before = os.getloadavg()
        cpu_before = resource.getrusage(resource.RUSAGE_CHILDREN)
        began = time.monotonic()
        subprocess.run(
            [str(ROOT / ".venv/bin/flask"), "--app", "wsgi", "worker", "--burst", "--no-cron"],
            env=env, cwd=ROOT, check=True,
        )  # fmt: skip
        wall = time.monotonic() - began
        load_after = os.getloadavg()
        cpu_after = resource.getrusage(resource.RUSAGE_CHILDREN)
        worker_cpu = (cpu_after.ru_utime - cpu_before.ru_utime) + (
            cpu_after.ru_stime - cpu_before.ru_stime
        )
        count = len(stand_in.received)
        span = (stand_in.last or 0) - (stand_in.first or 0)
        rate = count / span if span else float("nan")
        problems = []
        if count != args.statements or len({s for _, s in stand_in.received}) != count:
            problems.append(f"{count} statements arrived for {args.statements} written")
        arrived: dict[str, list[str]] = defaultdict(list)
        for learner, statement_id in stand_in.received:
            arrived[learner].append(statement_id)
        if arrived != expected:
            problems.append("the order per learner differs from the order written")
        engine = make_engine(database.url)
        with engine.connect() as conn:
            from sqlalchemy import text

            left = conn.execute(text("SELECT count(*) FROM outbox_messages")).scalar_one()
            delivered = conn.execute(text("SELECT delivered FROM outbox_stats")).scalar_one()
        engine.dispose()
        if left or delivered != args.statements:
            problems.append(f"{left} rows left in the outbox, {delivered} counted delivered")
        print(
            f"one worker delivered {count} statements in {stand_in.posts} POSTs of up to "
            f"{args.batch_size}: {rate:,.0f} statements/s (first to last POST, {span:.2f}s; "
            f"worker process {wall:.2f}s with start-up); target ≥ {TARGET}/s: "
            f"{'met' if rate >= TARGET else 'NOT met'}"
        )
        print(
            f"worker CPU {worker_cpu:.2f}s (start-up included): "
            f"{args.statements / worker_cpu:,.0f} statements per CPU second of the worker"
        )
        print(f"load average before {load_before[0]:.2f}, after {load_after[0]:.2f} "
              f"({os.cpu_count()} cores, shared)")  # fmt: skip
        fine = "every statement once, in order per learner, outbox empty"
        print("checks: " + ("; ".join(problems) if problems else fine))
        return 1 if problems else 0
    finally:
        stand_in.server.shutdown()
        if not args.keep:
            database.drop()


if __name__ == "__main__":
    sys.exit(main())
