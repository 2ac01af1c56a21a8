"""The scenarios: what each one sends, what it expects back, and how it checks the outcome.

A new benchmark (leaderboards, paths, push fan-out) is a `Scenario` subclass added to
`SCENARIOS`: build a `Workload` from the seed (write to the database first if the requests
need state, e.g. attempts), name the status every response must have, optionally a `Target`
relative to the /healthz baseline of the same round, and check what the run did in `verify`.
"""

from __future__ import annotations

import random
import time
import urllib.request
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, ClassVar

from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from benchmarks.harness.loadgen import LoadResult, Request, Workload
from benchmarks.harness.seed import Learner, SeedData

API = "/api/v1"
# What phones send: bokmål mostly, English for some staff; every mobile HTTP stack asks for gzip.
LANGUAGES = ("nb-NO,nb;q=0.9,no;q=0.8,en;q=0.5",) * 4 + ("en-GB,en;q=0.9",)


@dataclass(frozen=True)
class Target:
    """Throughput as a share of /healthz in the same round, and optionally a p99 ceiling."""

    min_ratio: float
    max_p99_ms: float | None = None

    def describe(self) -> str:
        text = f"≥ {self.min_ratio:.0%} of /healthz"
        if self.max_p99_ms is not None:
            text += f", p99 < {self.max_p99_ms:g} ms"
        return text

    def met(self, ratio: float, p99_ms: float) -> bool:
        return ratio >= self.min_ratio and (self.max_p99_ms is None or p99_ms < self.max_p99_ms)


@dataclass
class Bench:
    """What a scenario may use: the seed, the database, the running server."""

    seed: SeedData
    engine: Engine
    base_url: str
    connections: int
    rng: random.Random = field(default_factory=lambda: random.Random(20261123))
    # Run options scenarios may need in `prepare` (e.g. redis_url, points_per_learner), and
    # what one scenario's `prepare` left for another (e.g. "points_seeded").
    extra: dict[str, Any] = field(default_factory=dict)
    # How many of the seeded learners send the requests (0: all of them): a chain's staff
    # is large, the share using the app in any few minutes is not.
    active_learners: int = 0
    _active: list[Learner] = field(default_factory=list, repr=False)

    def active(self) -> list[Learner]:
        if not self._active:
            everyone = self.seed.learners
            count = self.active_learners or len(everyone)
            self._active = random.Random(7).sample(everyone, min(count, len(everyone)))
        return self._active

    def learner(self) -> Learner:
        return self.rng.choice(self.active())

    def prime_logins(self, repeats: int) -> tuple[int, float]:
        """Every active learner's token `repeats` times on `GET /me`, so that each gunicorn
        worker has most of them in its login cache, as a serving process has its active
        users (a learner's module is a dozen requests within minutes). Returns the number of
        requests and the seconds taken."""
        import time
        from concurrent.futures import ThreadPoolExecutor

        def get_me(learner: Learner) -> int:
            url = self.base_url + API + "/me"
            request = urllib.request.Request(url, headers=self.auth(learner))
            with urllib.request.urlopen(request, timeout=30) as response:
                return int(response.status)

        started = time.monotonic()
        work = self.active() * repeats
        with ThreadPoolExecutor(self.connections) as pool:
            statuses = list(pool.map(get_me, work))
        if any(status != 200 for status in statuses):
            raise RuntimeError("priming the login caches got a status other than 200")
        return len(work), time.monotonic() - started

    def auth(self, learner: Learner) -> dict[str, str]:
        return {"Authorization": f"Bearer {learner.token}"}


class Scenario(ABC):
    name: ClassVar[str]
    title: ClassVar[str]
    expected_status: ClassVar[int]
    target: ClassVar[Target | None] = None
    # False: every request may be sent once only; the harness sizes the workload from the
    # /healthz rate of the round (no endpoint is faster than /healthz).
    reusable: ClassVar[bool] = True

    def prepare(self, bench: Bench) -> None:
        """Once per run, before the first round: seed what this scenario needs beyond the
        default seed (points history, paths). Default: nothing."""
        return None

    @abstractmethod
    def workload(self, bench: Bench, budget: int) -> Workload:
        """The requests of one run; `budget` is how many a once-only workload must hold."""

    def verify(self, bench: Bench, workload: Workload, result: LoadResult) -> list[str]:
        """Problems with the run (empty when it did what it should)."""
        problems = []
        if result.requests == 0:
            problems.append("no request completed")
        if unexpected := result.unexpected(self.expected_status):
            problems.append(
                f"{unexpected} responses were not {self.expected_status}: "
                f"statuses {result.statuses}, socket errors {result.socket_errors}"
            )
        if result.exhausted:
            problems.append(f"the workload ran out: {result.exhausted} requests had nothing new")
        return problems


class Healthz(Scenario):
    name = "healthz"
    title = "GET /healthz (baseline)"
    expected_status = 200

    def workload(self, bench: Bench, budget: int) -> Workload:
        return Workload([Request("GET", "/healthz")], reuse=True)


class AnswerQuestion(Scenario):
    """Many learners answering at once: each request is a fresh, valid answer to a question of
    an attempt started beforehand (via SQL), with an Idempotency-Key as the app sends it.
    About 80 % are correct (each pays points), 20 % wrong."""

    name = "answer"
    title = "POST /attempts/{id}/answers"
    expected_status = 201
    target = Target(min_ratio=0.25, max_p99_ms=50)
    reusable = False
    correct_share = 0.8
    # Whether the organisation sends xAPI statements while this scenario runs (`answer_xapi`).
    xapi = False

    def workload(self, bench: Bench, budget: int) -> Workload:
        _set_xapi(bench, on=self.xapi)
        modules = bench.seed.modules
        attempts: list[dict[str, Any]] = []
        planned = 0
        while planned < budget:
            module = bench.rng.choice(modules)
            learner = bench.learner()
            attempts.append({"learner": learner, "module": module, "id": _new_id()})
            planned += len(module.questions)
        _insert_attempts(bench, attempts)
        # Question by question across all attempts: one learner's answers are far apart, as
        # when thousands answer in the same minute, and no two connections wait on one row lock.
        requests = []
        correct_expected: set[tuple[str, str]] = set()
        depth = max(len(a["module"].questions) for a in attempts)
        for index in range(depth):
            for attempt in attempts:
                questions = attempt["module"].questions
                if index >= len(questions):
                    continue
                question = questions[index]
                correct = bench.rng.random() < self.correct_share
                choices = (
                    list(question.correct_choice_ids) if correct else question.wrong_choice_ids()
                )
                if correct:
                    correct_expected.add((attempt["id"], question.id))
                body = _json({"question_id": question.id, "choice_ids": choices})
                requests.append(
                    Request(
                        "POST",
                        f"{API}/attempts/{attempt['id']}/answers",
                        {
                            **bench.auth(attempt["learner"]),
                            "Content-Type": "application/json",
                            "Accept-Language": bench.rng.choice(LANGUAGES),
                            "Accept-Encoding": "gzip",
                            "Idempotency-Key": f"bench-{attempt['id']}-{question.id}",
                        },
                        body,
                    )
                )
        ledger_before = _scalar(bench.engine, "SELECT count(*) FROM point_awards")
        return Workload(
            requests,
            reuse=False,
            state={
                "attempt_ids": [a["id"] for a in attempts],
                "correct_expected": correct_expected,
                "ledger_before": ledger_before,
                "ledger_watermark": _last_award_id(bench.engine),
                "statements_before": _scalar(
                    bench.engine, "SELECT count(*) FROM outbox_messages WHERE channel = 'xapi'"
                ),
            },
        )

    def verify(self, bench: Bench, workload: Workload, result: LoadResult) -> list[str]:
        problems = super().verify(bench, workload, result)
        ids = workload.state["attempt_ids"]
        # One snapshot for all three counts.
        with bench.engine.connect().execution_options(isolation_level="REPEATABLE READ") as conn:
            answered = conn.execute(
                text(
                    "SELECT attempt_id, question_id, correct FROM answers "
                    "WHERE attempt_id = ANY(:ids)"
                ),
                {"ids": ids},
            ).all()
            # Answers pay by the game rules (docs/game-rules.md): a correct answer pays
            # `module:<m>:correct:<n>` when it beats the learner's best on the module, plus
            # `module:<m>:first-try:<q>` before the module was ever completed.
            paid = conn.execute(
                text(
                    "SELECT count(*) FILTER (WHERE source_key LIKE :correct), "
                    "count(*) FILTER (WHERE source_key LIKE :first_try), "
                    "coalesce(sum(points), 0) FROM point_awards WHERE id > :watermark"
                ),
                {
                    "watermark": workload.state["ledger_watermark"],
                    "correct": "module:%:correct:%",
                    "first_try": "module:%:first-try:%",
                },
            ).one()
            ledger_after = conn.execute(text("SELECT count(*) FROM point_awards")).scalar_one()
        created = result.statuses.get(201, 0)
        # wrk stops with up to one request per connection in flight: the server may finish
        # those after the clock stopped, so the database can hold a few more than were counted.
        if not created <= len(answered) <= created + bench.connections:
            problems.append(f"{created} answers got 201 but {len(answered)} were recorded")
        expected = workload.state["correct_expected"]
        assert isinstance(expected, set)
        wrong_grades = [row for row in answered if row.correct != ((row[0], row[1]) in expected)]
        if wrong_grades:
            problems.append(f"{len(wrong_grades)} answers were graded other than planned")
        correct = sum(1 for row in answered if row.correct)
        if paid[0] > correct or paid[1] > correct:
            problems.append(f"{correct} correct answers but {paid[0]} + {paid[1]} awards for them")
        if correct and not paid[0]:
            problems.append("correct answers were recorded but none was paid")
        grew = ledger_after - int(workload.state["ledger_before"])  # type: ignore[call-overload]
        if grew != paid[0] + paid[1]:
            problems.append(f"the ledger grew by {grew}, expected {paid[0] + paid[1]}")
        statements = _scalar(
            bench.engine, "SELECT count(*) FROM outbox_messages WHERE channel = 'xapi'"
        ) - int(workload.state["statements_before"])  # type: ignore[call-overload]
        # One `answered` statement per recorded answer with xAPI on, none with it off.
        if statements != (len(answered) if self.xapi else 0):
            problems.append(f"{statements} xAPI statements for {len(answered)} answers")
        workload.state["verified"] = {
            "responses_201": created,
            "answers_recorded": len(answered),
            "xapi_statements": statements,
            "correct": correct,
            "ledger_grew": grew,
            "points_paid": int(paid[2]),
        }
        return problems


class ModuleRead(Scenario):
    """Open a module: the full body (cards as Markdown and sanitised HTML, questions, no
    answer key), in the learner's language, gzip as phones ask for it."""

    name = "module"
    title = "GET /modules/{id} (200, full body)"
    expected_status = 200
    target = Target(min_ratio=0.5)
    min_body_bytes = 500

    def workload(self, bench: Bench, budget: int) -> Workload:
        requests = [
            Request(
                "GET",
                f"{API}/modules/{bench.rng.choice(bench.seed.modules).id}",
                {
                    **bench.auth(bench.learner()),
                    "Accept-Language": bench.rng.choice(LANGUAGES),
                    "Accept-Encoding": "gzip",
                },
            )
            for _ in range(5000)
        ]
        return Workload(requests, reuse=True)

    def verify(self, bench: Bench, workload: Workload, result: LoadResult) -> list[str]:
        problems = super().verify(bench, workload, result)
        if 0 <= result.body_min < self.min_body_bytes:
            problems.append(f"a body was only {result.body_min} bytes: not the full module")
        return problems


class ModuleNotModified(Scenario):
    """Re-open a module the phone has cached: If-None-Match with the ETag the phone got with
    its gzip response (flask-compress appends ":gzip" to it) → 304."""

    name = "module-304"
    title = "GET /modules/{id} If-None-Match (304)"
    expected_status = 304

    def workload(self, bench: Bench, budget: int) -> Workload:
        # Ask the server for each (module, language) ETag instead of rebuilding its format.
        etags: dict[tuple[str, str], str] = {}
        requests = []
        for _ in range(5000):
            module = bench.rng.choice(bench.seed.modules)
            learner = bench.learner()
            language = bench.rng.choice(LANGUAGES)
            if (module.id, language) not in etags:
                etags[(module.id, language)] = _fetch_etag(
                    bench, f"{API}/modules/{module.id}", learner, language
                )
            requests.append(
                Request(
                    "GET",
                    f"{API}/modules/{module.id}",
                    {
                        **bench.auth(learner),
                        "Accept-Language": language,
                        "Accept-Encoding": "gzip",
                        "If-None-Match": etags[(module.id, language)],
                    },
                )
            )
        return Workload(requests, reuse=True)


class LeaderboardUsers(Scenario):
    """Issue 3: the learners' board of this week, of the whole organisation or of the learner's
    own department (half each), read by random learners. Needs points history: `prepare`
    writes `--points-per-learner` ledger rows per learner spread over this week so far and
    runs the `leaderboards rebuild` code to fill Redis."""

    name = "leaderboard-users"
    title = "GET /leaderboards/users (org | dept, week)"
    expected_status = 200
    target = Target(min_ratio=0.6)

    def prepare(self, bench: Bench) -> None:
        _seed_boards(bench)

    def workload(self, bench: Bench, budget: int) -> Workload:
        requests = []
        for n in range(5000):
            scope = "organization" if n % 2 == 0 else "department"
            requests.append(
                Request(
                    "GET",
                    f"{API}/leaderboards/users?scope={scope}&window=week",
                    {**bench.auth(bench.learner()), "Accept-Encoding": "gzip"},
                )
            )
        state: dict[str, object] = {}
        for scope in ("organization", "department"):
            body = _fetch_json(
                bench, f"{API}/leaderboards/users?scope={scope}&window=week", bench.learner()
            )
            state[scope] = len(body["entries"])
        return Workload(requests, reuse=True, state={"sample_entries": state})

    def verify(self, bench: Bench, workload: Workload, result: LoadResult) -> list[str]:
        problems = super().verify(bench, workload, result)
        sample = workload.state["sample_entries"]
        assert isinstance(sample, dict)
        problems += [f"the {scope} board was empty" for scope, n in sample.items() if not n]
        return problems


class LeaderboardDepartments(Scenario):
    """Issue 3: the departments' board of this week by points per active member (every
    department's total from Redis, divided by its member count from the database)."""

    name = "leaderboard-departments"
    title = "GET /leaderboards/departments (per_member)"
    expected_status = 200
    target = Target(min_ratio=0.6)
    path = f"{API}/leaderboards/departments?window=week&metric=per_member"

    def prepare(self, bench: Bench) -> None:
        _seed_boards(bench)

    def workload(self, bench: Bench, budget: int) -> Workload:
        requests = [
            Request("GET", self.path, {**bench.auth(bench.learner()), "Accept-Encoding": "gzip"})
            for _ in range(5000)
        ]
        body = _fetch_json(bench, self.path, bench.learner())
        return Workload(requests, reuse=True, state={"sample_entries": len(body["entries"])})

    def verify(self, bench: Bench, workload: Workload, result: LoadResult) -> list[str]:
        problems = super().verify(bench, workload, result)
        if not workload.state["sample_entries"]:
            problems.append("the departments board was empty")
        return problems


class PathsCurrent(Scenario):
    """Issue 4: this week's paths of a learner who has 3 paths of 10 modules each (made with
    the paths service in `prepare`, for everyone in the organisation; they overlap, as the
    shipped content has 18 modules), with each module's status."""

    name = "paths-current"
    title = "GET /paths/current (3 paths × 10 modules)"
    expected_status = 200
    target = Target(min_ratio=0.5)
    paths = 3
    modules_per_path = 10

    def prepare(self, bench: Bench) -> None:
        from app import clock
        from app.orgs.models import User
        from app.paths import rules as path_rules
        from app.paths.service import create_path

        modules = sorted(bench.seed.modules, key=lambda m: m.key)
        step = (len(modules) - self.modules_per_path) // max(self.paths - 1, 1)
        now = clock.now()
        with Session(bench.engine) as session:
            admin = session.get_one(User, bench.seed.admin_id)
            week = path_rules.week_of(now, admin.organization.timezone)
            for n in range(self.paths):
                chosen = modules[n * step : n * step + self.modules_per_path]
                assert len(chosen) == self.modules_per_path, "not enough modules in content/"
                create_path(
                    session,
                    user=admin,
                    title=f"Benk uke {n + 1}",
                    modules=[{"module_id": m.id, "mandatory": n == 0} for m in chosen],
                    week=week,
                    sequential=n == 1,
                    now=now,
                )
            session.commit()

    def workload(self, bench: Bench, budget: int) -> Workload:
        requests = [
            Request(
                "GET",
                f"{API}/paths/current",
                {
                    **bench.auth(bench.learner()),
                    "Accept-Language": bench.rng.choice(LANGUAGES),
                    "Accept-Encoding": "gzip",
                },
            )
            for _ in range(5000)
        ]
        body = _fetch_json(bench, f"{API}/paths/current", bench.learner())
        shape = [len(p["modules"]) for p in body["paths"]]
        return Workload(requests, reuse=True, state={"sample_shape": shape})

    def verify(self, bench: Bench, workload: Workload, result: LoadResult) -> list[str]:
        problems = super().verify(bench, workload, result)
        shape = workload.state["sample_shape"]
        if shape != [self.modules_per_path] * self.paths:
            problems.append(f"a learner's week had paths of {shape} modules, not 3 × 10")
        return problems


class AdminUsers(Scenario):
    """The admin's user list: a page of 50 with last logins, a third each unfiltered, searched
    by part of a name (the seeded learners are all `learner<n>`, so every search matches many),
    and one department with everything below it."""

    name = "admin-users"
    title = "GET /admin/users (page of 50: all | q | department)"
    expected_status = 200

    def prepare(self, bench: Bench) -> None:
        from datetime import UTC, datetime, timedelta

        from app.auth.models import LoginSession
        from app.auth.tokens import AccessClaims, encode_access_token

        with Session(bench.engine) as session:
            login = LoginSession(user_id=bench.seed.admin_id)
            session.add(login)
            session.commit()
            token = encode_access_token(
                AccessClaims(
                    user_id=bench.seed.admin_id, org_id=bench.seed.org_id, session_id=login.id
                ),
                secret=str(bench.extra["secret_key"]),
                now=datetime.now(UTC),
                lifetime=timedelta(hours=2),
            )
        bench.extra["admin_auth"] = {"Authorization": f"Bearer {token}"}

    def workload(self, bench: Bench, budget: int) -> Workload:
        departments = sorted(
            {learner.department_id for learner in bench.seed.learners if learner.department_id}
        )
        headers = {**bench.extra["admin_auth"], "Accept-Encoding": "gzip"}
        requests = []
        for n in range(3000):
            query = (
                "",
                f"&q={bench.rng.randint(10, 99)}",
                f"&department_id={bench.rng.choice(departments)}",
            )[n % 3]
            requests.append(Request("GET", f"{API}/admin/users?limit=50{query}", headers))
        return Workload(requests, reuse=True)


class AnswerWithXapi(AnswerQuestion):
    """The answer scenario with the organisation's LRS connected: each answer also writes its
    `answered` statement to the outbox (no worker delivers during the run: delivery is
    measured apart, `benchmarks/xapi_delivery.py`)."""

    name = "answer_xapi"
    title = "POST /attempts/{id}/answers (xAPI on)"
    target = None  # judged against `answer` of the same round: at most 10 % slower
    xapi = True


def _all_scenarios() -> tuple[type[Scenario], ...]:
    from benchmarks.harness.insights import (
        InsightsRegionSummary,
        InsightsStoreMembers,
        InsightsStoreSummary,
    )

    return (
        Healthz,
        AnswerQuestion,
        AnswerWithXapi,
        ModuleRead,
        ModuleNotModified,
        LeaderboardUsers,
        LeaderboardDepartments,
        PathsCurrent,
        AdminUsers,
        InsightsStoreSummary,
        InsightsStoreMembers,
        InsightsRegionSummary,
    )


SCENARIOS: dict[str, type[Scenario]] = {s.name: s for s in _all_scenarios()}


# --- helpers ------------------------------------------------------------------------------------


def _set_xapi(bench: Bench, *, on: bool) -> None:
    """Connect (or disconnect) the organisation's LRS, and tell the server's processes."""
    import json as jsonlib

    import redis
    from cryptography.fernet import Fernet

    key = bench.extra.get("interop_key")
    with bench.engine.begin() as conn:
        exists = conn.execute(text("SELECT count(*) FROM xapi_integrations")).scalar_one()
        if not on and not exists:
            return
        if on and not exists and key:
            conn.execute(
                text(
                    "INSERT INTO xapi_integrations (org_id, endpoint, username, "
                    "password_encrypted, enabled, updated_at) VALUES (:org, :endpoint, 'bench', "
                    ":password, true, now())"
                ),
                {
                    "org": bench.seed.org_id,
                    "endpoint": "http://127.0.0.1:9/xapi/",
                    "password": Fernet(key.encode()).encrypt(b"bench").decode(),
                },
            )
        conn.execute(text("UPDATE xapi_integrations SET enabled = :on"), {"on": on})
    client = redis.Redis.from_url(bench.extra["redis_url"])
    db = client.connection_pool.connection_kwargs.get("db", 0)
    client.publish(
        f"nanolearn:{db}:cache-invalidation",
        jsonlib.dumps({"cache": "interop.xapi_enabled", "keys": ["*"]}),
    )
    time.sleep(0.5)  # every process has dropped its answer before the load starts


def _new_id() -> str:
    from app.db import new_id

    return new_id()


def _json(value: Any) -> str:
    import json

    return json.dumps(value, separators=(",", ":"))


def _last_award_id(engine: Engine) -> str:
    """Award ids sort by creation: everything above this one was paid during the run."""
    with engine.connect() as conn:
        return str(
            conn.execute(text("SELECT coalesce(max(id), '') FROM point_awards")).scalar_one()
        )


def _scalar(engine: Engine, sql: str) -> int:
    with engine.connect() as conn:
        return int(conn.execute(text(sql)).scalar_one())


def _insert_attempts(bench: Bench, attempts: list[dict[str, Any]]) -> None:
    """Started attempts, as `start_attempt` leaves them (inserted in bulk, not via HTTP)."""
    from app import clock
    from app.learning.models import Attempt

    now = clock.now()
    with Session(bench.engine) as session:
        session.add_all(
            Attempt(
                id=a["id"],
                org_id=bench.seed.org_id,
                user_id=a["learner"].id,
                module_id=a["module"].id,
                module_version_id=a["module"].version_id,
                module_version=a["module"].version,
                questions_total=len(a["module"].questions),
                started_at=now,
            )
            for a in attempts
        )
        session.commit()
        # Fresh statistics for the tables the answers read and grow. They start empty in a run
        # and grow by thousands of rows a minute, faster than autovacuum analyses them; plans
        # made on the empty tables' statistics (and kept by the prepared statements of the
        # pooled connections) scan them whole, and each slice came out slower than the last.
        # A serving database's tables are large and analysed; this keeps the run like one.
        session.execute(text("ANALYZE attempts; ANALYZE answers; ANALYZE point_awards"))
        session.commit()


def _seed_boards(bench: Bench) -> None:
    """Points over this week so far for the leaderboard scenarios (once per run), then the
    `leaderboards rebuild` code path (`rebuild_all`) to fill Redis."""
    if bench.extra.get("points_seeded"):
        return
    import time

    import redis

    from app import clock
    from app.leaderboards import rules as board_rules
    from app.leaderboards.service import rebuild_all
    from app.orgs.models import Organization
    from benchmarks.harness.seed import seed_points

    now = clock.now()
    with Session(bench.engine) as session:
        timezone = session.get_one(Organization, bench.seed.org_id).timezone
    week = board_rules.period_at("week", now, timezone)
    rows = int(bench.extra.get("points_per_learner", 3)) * len(bench.seed.learners)
    seconds = seed_points(
        bench.engine, bench.seed.learners, org_id=bench.seed.org_id, rows=rows,
        start=week.start, end=now,
    )  # fmt: skip
    client = redis.Redis.from_url(str(bench.extra["redis_url"]))
    started = time.perf_counter()
    with Session(bench.engine) as session:
        written = rebuild_all(session, now=now, client=client)
        session.commit()
    client.close()
    print(
        f"seeded {rows} ledger rows over {week.key} in {seconds:.1f}s; rebuilt {written} "
        f"board keys in {time.perf_counter() - started:.1f}s",
        flush=True,
    )
    bench.extra["points_seeded"] = rows


def _fetch_json(bench: Bench, path: str, learner: Learner) -> dict[str, Any]:
    import json

    request = urllib.request.Request(bench.base_url + path, headers=bench.auth(learner))
    with urllib.request.urlopen(request, timeout=30) as response:
        return dict(json.loads(response.read()))


def _fetch_etag(bench: Bench, path: str, learner: Learner, language: str) -> str:
    request = urllib.request.Request(
        bench.base_url + path,
        headers={**bench.auth(learner), "Accept-Language": language, "Accept-Encoding": "gzip"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        etag = response.headers.get("ETag")
    if not etag:
        raise RuntimeError(f"{path} sent no ETag")
    return str(etag)
