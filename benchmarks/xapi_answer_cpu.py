"""What xAPI costs an answer, in-process: CPU per `answer_question` + commit, LRS off and on.

`.venv/bin/python benchmarks/xapi_answer_cpu.py` (`--help` for the options). Creates
PostgreSQL database `nl_bench4_xapi_cpu_<pid>` (dropped at the end), seeds it as `run.py`
does (learners, the shipped content), and answers questions of fresh attempts through the
service the endpoint calls, with the caller as the endpoint has it (a `Principal`), one
commit per answer (the request's); about 80 % are right, in the same pattern in both blocks
of a pair. Blocks of `--block` answers alternate
with the organisation's LRS connected and not (`--pairs` pairs, the order flipped every
pair), so both sides see the same load on a shared machine. `time.process_time()` around
each answer: this process's CPU only (waiting for PostgreSQL or Redis is not counted). Prints
the median CPU per answer of each side's blocks and the median of the pairs' differences
(the cost of xAPI), and, when PostgreSQL runs on this machine, its backends' CPU per answer
each way (from /proc, in 10 ms ticks, summed over all blocks). `--http` answers with
whole requests instead (`POST /attempts/{id}/answers` through Flask's test client, as the
`answer` scenario sends them, without the HTTP server). `--profile` prints a cProfile (CPU
time) of ten more blocks' worth of answers each way.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import random
import secrets
import statistics
import sys
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from cryptography.fernet import Fernet  # noqa: E402

from benchmarks.harness.database import BenchDatabase, reset_redis  # noqa: E402


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add = parser.add_argument
    add("--pairs", type=int, default=60, help="pairs of blocks, off and on (%(default)s)")
    add("--block", type=int, default=25, help="answers per block (%(default)s)")
    add("--learners", type=int, default=3000, help="learners (%(default)s)")
    add(
        "--http",
        action="store_true",
        help="whole requests: POST /attempts/{id}/answers through Flask's test client",
    )
    add("--profile", action="store_true", help="cProfile one more round each way")
    add(
        "--pg-admin-url",
        default=os.environ.get("BENCH_PG_ADMIN_URL", "postgresql://root@127.0.0.1:5432/postgres"),
    )
    add("--redis-url", default=os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/13"))
    return parser.parse_args(argv)


class Answering:
    """Fresh attempts of random learners, answered question by question."""

    def __init__(self, app: Any, seed: Any, rng: random.Random, *, http: bool) -> None:
        from app import db
        from app.auth.models import LoginSession
        from app.auth.principal import principal_for
        from app.auth.tokens import AccessClaims

        self.app = app
        self.seed = seed
        self.rng = rng
        self.http = http
        self.client = app.test_client()
        self.tokens = {learner.id: learner.token for learner in seed.learners}
        session = db.session()
        logins = dict(session.query(LoginSession.user_id, LoginSession.id).all())
        self.principals = [
            principal_for(session, AccessClaims(learner.id, seed.org_id, logins[learner.id]))
            for learner in seed.learners
        ]
        session.commit()

    def pattern(self, count: int) -> list[tuple[Any, list[bool]]]:
        """Modules and which of their questions are answered right, for `count` answers:
        both blocks of a pair follow one pattern, so they pay the same points (a paid answer
        costs several times a wrong one)."""
        pattern: list[tuple[Any, list[bool]]] = []
        planned = 0
        while planned < count:
            module = self.rng.choice(self.seed.modules)
            pattern.append((module, [self.rng.random() < 0.8 for _ in module.questions]))
            planned += len(module.questions)
        return pattern

    def plan(
        self, pattern: list[tuple[Any, list[bool]]], count: int
    ) -> list[tuple[Any, str, str, list[str]]]:
        """`count` answers (principal, attempt id, question id, choices) on new attempts of
        random learners."""
        from app import clock, db
        from app.db import new_id
        from app.learning.models import Attempt

        session = db.session()
        planned: list[tuple[Any, str, str, list[str]]] = []
        for module, right in pattern:
            principal = self.rng.choice(self.principals)
            attempt = Attempt(
                id=new_id(),
                org_id=self.seed.org_id,
                user_id=principal.id,
                module_id=module.id,
                module_version_id=module.version_id,
                module_version=module.version,
                questions_total=len(module.questions),
                started_at=clock.now(),
            )
            session.add(attempt)
            for question, correct in zip(module.questions, right, strict=True):
                choices = (
                    list(question.correct_choice_ids) if correct else question.wrong_choice_ids()
                )
                planned.append((principal, attempt.id, question.id, choices))
        session.commit()
        return planned[:count]

    def run(
        self, count: int, pattern: list[tuple[Any, list[bool]]] | None = None
    ) -> tuple[list[float], float | None]:
        """CPU seconds of each answer (the service and its commit), and the PostgreSQL
        backends' CPU seconds for all of them (None when the server's processes are not
        readable here)."""
        from app import clock, db
        from app.learning import service

        session = db.session()
        spent: list[float] = []
        planned = self.plan(pattern or self.pattern(count), count)
        backends_before = backend_cpu(session)
        for principal, attempt_id, question_id, choices in planned:
            if self.http:
                started = time.process_time()
                response = self.client.post(
                    f"/api/v1/attempts/{attempt_id}/answers",
                    json={"question_id": question_id, "choice_ids": choices},
                    headers={
                        "Authorization": f"Bearer {self.tokens[principal.id]}",
                        "Idempotency-Key": f"bench-{attempt_id}-{question_id}",
                        "Accept-Language": "nb",
                        "Accept-Encoding": "gzip",
                    },
                )
                spent.append(time.process_time() - started)
                if response.status_code != 201:
                    raise RuntimeError(f"answer: {response.status_code} {response.data[:300]!r}")
                continue
            started = time.process_time()
            service.answer_question(
                session,
                user=principal,
                attempt_id=attempt_id,
                question_id=question_id,
                choice_ids=choices,
                answered_at=None,
                locales=["nb"],
                now=clock.now(),
            )
            session.commit()
            spent.append(time.process_time() - started)
        session = db.session()
        backends_after = backend_cpu(session)
        if backends_before is None or backends_after is None:
            return spent, None
        return spent, sum(
            used - backends_before[pid]
            for pid, used in backends_after.items()
            if pid in backends_before
        )


def backend_cpu(session: Any) -> dict[int, float] | None:
    """CPU seconds each client backend of this database has used (from /proc, in clock ticks
    of 10 ms: read over a whole round); None for a server elsewhere."""
    from sqlalchemy import text

    pids = session.scalars(
        text(
            "SELECT pid FROM pg_stat_activity "
            "WHERE datname = current_database() AND backend_type = 'client backend'"
        )
    ).all()
    session.commit()
    used: dict[int, float] = {}
    try:
        for pid in pids:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            used[pid] = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return None
    return used


def set_xapi(org_id: str, *, on: bool) -> None:
    from app import clock, db
    from app.interop import service as xapi

    session = db.session()
    xapi.configure(
        session,
        org_id=org_id,
        endpoint="http://127.0.0.1:9/xapi/",
        username="bench",
        password="bench-password",
        enabled=on,
        now=clock.now(),
    )
    session.commit()


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    database = BenchDatabase(args.pg_admin_url, f"nl_bench4_xapi_cpu_{os.getpid()}")
    os.environ["ENCRYPTION_KEYS"] = Fernet.generate_key().decode()
    secret = secrets.token_urlsafe(32)
    database.create()
    try:
        from sqlalchemy import text

        from app import caching, create_app, db
        from app.db import make_engine
        from benchmarks.harness.seed import seed

        engine = make_engine(database.url)
        database.migrate(engine)
        reset_redis(args.redis_url)
        seeded = seed(
            engine,
            learners=args.learners,
            regions=2,
            stores_per_region=5,
            content_dir=ROOT / "content",
            media_dir=Path(f"/tmp/nl_bench_xapi_cpu_media_{os.getpid()}"),
            secret_key=secret,
            token_lifetime=timedelta(hours=1),
        )
        app = create_app(
            {
                "DATABASE_URL": database.url,
                "REDIS_URL": args.redis_url,
                "SECRET_KEY": secret,
                "ACCESS_LOG": False,
                "XAPI_ALLOW_HTTP": True,
            }
        )
        rng = random.Random(17)
        pairs: list[tuple[float, float]] = []  # (off, on): mean CPU ms per answer of a block
        backend_seconds = {False: 0.0, True: 0.0}
        backends_known = True
        with app.app_context():
            # As a serving process does on its first request: without the invalidation
            # subscription no per-process cache stores anything.
            caching.start(app.extensions["redis"])
            answering = Answering(app, seeded, rng, http=args.http)
            for on in (False, True):  # warm-up: caches, compiled statements, connections
                set_xapi(seeded.org_id, on=on)
                answering.run(args.block * 4)
            for pair in range(args.pairs):
                block: dict[bool, float] = {}
                pattern = answering.pattern(args.block)
                for on in (False, True) if pair % 2 == 0 else (True, False):
                    set_xapi(seeded.org_id, on=on)
                    spent, backends = answering.run(args.block, pattern)
                    block[on] = statistics.fmean(spent) * 1000
                    if backends is None:
                        backends_known = False
                    else:
                        backend_seconds[on] += backends
                pairs.append((block[False], block[True]))
                if (pair + 1) % 10 == 0:
                    costs = [on - off for off, on in pairs]
                    print(
                        f"{pair + 1} pairs: off {statistics.median(p[0] for p in pairs):.3f}, "
                        f"on {statistics.median(p[1] for p in pairs):.3f} ms CPU per answer, "
                        f"cost {statistics.median(costs):+.3f} ms, "
                        f"load {os.getloadavg()[0]:.1f}",
                        flush=True,
                    )
            outbox = db.session().execute(
                text("SELECT count(*) FROM outbox_messages WHERE channel = 'xapi'")
            )
            statements = outbox.scalar_one()
            db.session().commit()
            if args.profile:
                for on in (False, True):
                    set_xapi(seeded.org_id, on=on)
                    # CPU time, as the rounds measure (not the time spent waiting).
                    profiler = cProfile.Profile(time.process_time)
                    profiler.enable()
                    answering.run(args.block * 10)
                    profiler.disable()
                    out = io.StringIO()
                    stats = pstats.Stats(profiler, stream=out)
                    stats.sort_stats("cumulative").print_stats(45)
                    print(f"--- cProfile, xAPI {'on' if on else 'off'}, {args.block * 10} answers")
                    print(out.getvalue())
        answers = args.pairs * args.block
        offs = sorted(off for off, _ in pairs)
        ons = sorted(on for _, on in pairs)
        # Each block's on minus the off next to it: the machine's load drifts less within a
        # pair than over the run.
        costs = sorted(on - off for off, on in pairs)
        off, on, cost = statistics.median(offs), statistics.median(ons), statistics.median(costs)
        quartile = len(costs) // 4
        print(
            f"this process, CPU ms per answer ({args.pairs} pairs of blocks of {args.block}):\n"
            f"  off: median {off:.3f} (quartiles {offs[quartile]:.3f}-{offs[-1 - quartile]:.3f})\n"
            f"  on:  median {on:.3f} (quartiles {ons[quartile]:.3f}-{ons[-1 - quartile]:.3f})\n"
            f"  xAPI costs {cost:+.3f} ms per answer ({cost / off:+.1%}): median of the pairs' "
            f"differences (quartiles {costs[quartile]:+.3f} to {costs[-1 - quartile]:+.3f})"
        )
        if backends_known:
            pg_off = backend_seconds[False] / answers * 1000
            pg_on = backend_seconds[True] / answers * 1000
            print(
                f"PostgreSQL backends, CPU ms per answer over all blocks: off {pg_off:.3f}, "
                f"on {pg_on:.3f} ({pg_on - pg_off:+.3f} ms, {(pg_on - pg_off) / pg_off:+.1%})"
            )
        print(f"{statements} statements written (expected {answers + args.block * 4} with xAPI on)")
        engine.dispose()
    finally:
        database.drop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
