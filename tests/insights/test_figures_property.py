"""Property: every figure of the managers' insights equals a brute-force recount from the raw
rows, written straight from the definitions in docs/insights.md.

Random organisations (department trees, time zones), people (roles, start dates, accounts
created mid-history, deactivated, moved to another department after earning points), weekly
paths and onboarding templates with audiences, attempts and point awards around week
boundaries; then any department and any week is asked for, and the summary and every member's
row are compared with a recount done in plain Python from the generated rows.
"""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from hypothesis import HealthCheck, given, settings, target
from hypothesis import strategies as st
from sqlalchemy import select

from app.gamification.models import PointAward
from app.insights import passes, service
from app.insights.models import ModulePass
from app.learning.models import Attempt
from app.orgs.models import Department, User
from app.paths.models import LearningPath, PathModule
from tests import factories

TIMEZONES = ["Europe/Oslo", "America/New_York", "Pacific/Auckland", "Asia/Kolkata", "UTC"]
WEEKS = ["2026-W52", "2026-W53", "2027-W01", "2027-W02"]
ORIGIN = datetime(2026, 12, 19, tzinfo=UTC)  # a few days before 2026-W52 begins anywhere
HOURS = 24 * 32  # history spans about four and a half weeks from ORIGIN
_slugs = itertools.count()

moment = st.integers(0, HOURS * 60).map(lambda minutes: ORIGIN + timedelta(minutes=minutes))

person = st.fixed_dictionaries(
    {
        "department": st.integers(0, 4),
        "moved_from": st.none() | st.integers(0, 4),
        "roles": st.sampled_from([["learner"], ["learner", "manager"], ["manager"]]),
        "created_at": st.integers(0, HOURS * 60).map(
            lambda minutes: ORIGIN - timedelta(days=3) + timedelta(minutes=minutes)
        )
        # Long before any onboarding week: grouped without their start (`queries.week_groups`).
        | st.just(ORIGIN - timedelta(days=400)),
        "started_on": st.none()
        | st.sampled_from([date(2026, 12, 14), date(2026, 12, 30), date(2025, 10, 6)]),
        "active": st.booleans().map(lambda b: b or False) | st.just(True),
        "attempts": st.lists(
            st.tuples(
                st.integers(0, 2),  # module
                st.none() | moment,  # completed at (None: never completed)
                st.integers(0, 3),  # right answers of 3
            ),
            max_size=5,
        ),
        "awards": st.lists(st.tuples(moment, st.sampled_from([1, 5, 10, 25])), max_size=4),
    }
)

path = st.fixed_dictionaries(
    {
        "week": st.sampled_from(WEEKS) | st.none(),  # None: an onboarding template
        "onboarding_week": st.integers(1, 3),
        "departments": st.lists(st.integers(0, 4), max_size=2, unique=True),
        "roles": st.sampled_from([[], [], ["learner"], ["manager"]]),
        "steps": st.lists(
            st.tuples(st.integers(0, 2), st.booleans()),
            min_size=1,
            max_size=3,
            unique_by=lambda s: s[0],
        ),
        "due_at": st.none() | moment,
    }
)

scene = st.fixed_dictionaries(
    {
        "timezone": st.sampled_from(TIMEZONES),
        "parents": st.tuples(
            st.just(None),
            st.sampled_from([None, 0]),
            st.sampled_from([None, 0, 1]),
            st.sampled_from([None, 0, 1, 2]),
            st.sampled_from([None, 0, 1, 2, 3]),
        ),
        "people": st.lists(person, min_size=1, max_size=6),
        "paths": st.lists(path, max_size=3),
        "ask_department": st.integers(0, 4),
        "ask_week": st.sampled_from(WEEKS),
        # Now, in hours from the asked week's Monday 00:00 UTC: mostly inside that week.
        "now_hours": st.integers(-24, 24 * 9),
    }
)


def week_span(week: str, timezone: str) -> tuple[datetime, datetime]:
    year, number = int(week[:4]), int(week[-2:])
    monday = date.fromisocalendar(year, number, 1)
    zone = ZoneInfo(timezone)
    start = datetime(monday.year, monday.month, monday.day, tzinfo=zone)
    after = monday + timedelta(days=7)
    end = datetime(after.year, after.month, after.day, tzinfo=zone)
    return start.astimezone(UTC), end.astimezone(UTC)


def recount(data: dict, ids: dict) -> tuple[dict, dict]:
    """The summary and {user id: row figures}, from the generated rows alone."""
    tz = data["timezone"]
    parents = data["parents"]

    def ancestors(index: int) -> set[int]:
        found = set()
        current: int | None = index
        while current is not None:
            found.add(current)
            current = parents[current]
        return found

    subtree = {d for d in range(5) if data["ask_department"] in ancestors(d)}
    start, end = week_span(data["ask_week"], tz)
    now = data["now"]  # set by the test from now_hours
    rows: dict[str, dict] = {}
    for index, p in enumerate(data["people"]):
        if not p["active"] or p["department"] not in subtree or p["created_at"] >= end:
            continue
        # Assigned modules: weekly paths of the week and onboarding templates of their n-th week.
        started = p["started_on"] or p["created_at"].astimezone(ZoneInfo(tz)).date()
        start_monday = started - timedelta(days=started.weekday())
        ask_monday = date.fromisocalendar(int(data["ask_week"][:4]), int(data["ask_week"][-2:]), 1)
        nth = (ask_monday - start_monday).days // 7 + 1
        mandatory: dict[int, datetime] = {}
        assigned: set[int] = set()
        for pth in data["paths"]:
            if pth["week"] is not None and pth["week"] != data["ask_week"]:
                continue
            if pth["week"] is None and pth["onboarding_week"] != nth:
                continue
            if pth["departments"] and not ancestors(p["department"]) & set(pth["departments"]):
                continue
            if pth["roles"] and not set(pth["roles"]) & set(p["roles"]):
                continue
            due = pth["due_at"] or end
            for module, is_mandatory in pth["steps"]:
                assigned.add(module)
                if is_mandatory:
                    mandatory[module] = min(due, mandatory.get(module, due))
        # Done for the path: passed (every question right here, at the default 80 %).
        done_ever = {
            m for m, at, right in p["attempts"] if at is not None and at < end and right == 3
        }
        in_week = [
            (m, right) for m, at, right in p["attempts"] if at is not None and start <= at < end
        ]
        learned = [at for _, at, _ in p["attempts"] if at is not None and at <= now]
        overdue = [m for m, due in mandatory.items() if m not in done_ever and due <= now]
        last = max(learned) if learned else None
        inactive = (now - (last or p["created_at"])).days >= 14
        rows[ids["people"][index]] = {
            "active": bool(in_week),
            "modules_completed": len({m for m, _ in in_week}),
            "right": sum(r for _, r in in_week),
            "questions": 3 * len(in_week),
            "points": sum(pts for at, pts in p["awards"] if start <= at < end),
            "assigned": len(assigned),
            "assigned_done": len(assigned & done_ever),
            "mandatory": len(mandatory),
            "mandatory_missing": len(set(mandatory) - done_ever),
            "overdue": sorted(ids["modules"][m] for m in overdue),
            "inactive": inactive,
            "never": last is None,
        }

    def share(a: int, b: int) -> float | None:
        return None if b == 0 else round(a / b, 4)

    with_mandatory = [r for r in rows.values() if r["mandatory"]]
    summary = {
        "members": len(rows),
        "active_members": sum(r["active"] for r in rows.values()),
        "path_completion_rate": share(
            sum(r["assigned_done"] for r in rows.values()),
            sum(r["assigned"] for r in rows.values()),
        ),
        "mandatory_compliance_rate": share(
            sum(r["mandatory_missing"] == 0 for r in with_mandatory), len(with_mandatory)
        ),
        "average_score": share(
            sum(r["right"] for r in rows.values()), sum(r["questions"] for r in rows.values())
        ),
        "points": sum(r["points"] for r in rows.values()),
    }
    return summary, rows


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=scene)
def test_every_figure_equals_a_recount_from_the_rows(app, session, data):
    year, number = int(data["ask_week"][:4]), int(data["ask_week"][-2:])
    monday = date.fromisocalendar(year, number, 1)
    data["now"] = datetime(monday.year, monday.month, monday.day, tzinfo=UTC) + timedelta(
        hours=data["now_hours"]
    )
    cache_seconds = app.config["INSIGHTS_CACHE_SECONDS"]
    nested = session.begin_nested()
    try:
        org = factories.make_org(
            session, slug=f"prop{next(_slugs)}", name="Eiendom", timezone=data["timezone"]
        )
        departments: list[Department] = []
        for index, parent in enumerate(data["parents"]):
            departments.append(
                factories.make_department(
                    session,
                    org,
                    f"D{index}",
                    parent=departments[parent] if parent is not None else None,
                )
            )
        modules = [
            factories.publish_module(session, org, factories.module_document(title=f"M{n}"))
            for n in range(3)
        ]
        for pth in data["paths"]:
            row = LearningPath(
                org_id=org.id,
                title="P",
                week=pth["week"],
                onboarding_week=pth["onboarding_week"] if pth["week"] is None else None,
                audience_department_ids=[departments[d].id for d in pth["departments"]],
                audience_roles=pth["roles"],
                due_at=pth["due_at"],
            )
            row.steps = [
                PathModule(position=pos, module_id=modules[m].id, mandatory=mand)
                for pos, (m, mand) in enumerate(pth["steps"])
            ]
            session.add(row)
        viewer = factories.make_user(session, org, "boss", roles=["admin"])
        people_ids = []
        for index, p in enumerate(data["people"]):
            first = p["moved_from"] if p["moved_from"] is not None else p["department"]
            user = User(
                org_id=org.id,
                username=f"u{index}",
                display_name=f"Person {index}",
                password_hash="x",
                department_id=departments[first].id,
                roles=p["roles"],
                created_at=p["created_at"],
                started_on=p["started_on"],
                active=True,
            )
            session.add(user)
            session.flush()
            people_ids.append(user.id)
            for n, (m, at, right) in enumerate(p["attempts"]):
                session.add(
                    Attempt(
                        org_id=org.id,
                        user_id=user.id,
                        module_id=modules[m].id,
                        module_version_id=modules[m].current_version_id,
                        module_version=1,
                        questions_total=3,
                        started_at=(at or ORIGIN) - timedelta(minutes=3),
                        completed_at=at,
                        score_correct=right if at is not None else None,
                        passed=(right == 3) if at is not None else None,
                        client_id=f"c{n}",
                    )
                )
                if at is not None and right == 3:  # as the completion records it
                    passes.note_passed(
                        session,
                        org_id=org.id,
                        user_id=user.id,
                        department_id=user.department_id,
                        module_id=modules[m].id,
                        passed_at=at,
                    )
            for n, (at, points) in enumerate(p["awards"]):
                session.add(
                    PointAward(
                        org_id=org.id,
                        user_id=user.id,
                        department_id=departments[first].id,  # where it was earned
                        points=points,
                        reason="test",
                        source_key=f"k{n}",
                        earned_at=at,
                    )
                )
            session.flush()
            # Moved after earning, deactivated after learning: only the present counts.
            user.department_id = departments[p["department"]].id
            user.active = p["active"]
        session.flush()
        # The rollup kept through completions and moves is what `attempts` say.
        kept_passes = _passes(session, org.id)
        passes.rebuild(session, org_id=org.id)
        assert kept_passes == _passes(session, org.id)

        ids = {"people": people_ids, "modules": [m.id for m in modules]}
        expected_summary, expected_rows = recount(data, ids)
        target(float(len(expected_rows)), label="members")
        target(float(sum(bool(r["overdue"]) for r in expected_rows.values())), label="overdue")
        asked = departments[data["ask_department"]].id
        # From the source tables: the cache is off.
        app.config["INSIGHTS_CACHE_SECONDS"] = 0
        summary = service.department_summary(
            session, viewer=viewer, department_id=asked, week=data["ask_week"], now=data["now"]
        )
        assert {k: summary[k] for k in expected_summary} == expected_summary

        rows = list(
            service.member_rows(
                session,
                viewer=viewer,
                department_id=asked,
                week=data["ask_week"],
                now=data["now"],
                locales=["en"],
            )
        )
        assert {r.user["id"] for r in rows} == set(expected_rows)
        for row in rows:
            want = expected_rows[row.user["id"]]
            codes = {reason.code: reason for reason in row.reasons}
            assert row.modules_completed == want["modules_completed"]
            assert row.mandatory_missing == want["mandatory_missing"]
            assert row.points == want["points"]
            assert row.average_score == (
                None if not want["questions"] else round(want["right"] / want["questions"], 4)
            )
            overdue = codes.get("mandatory_overdue")
            assert (sorted(overdue.params["module_ids"]) if overdue else []) == want["overdue"]
            assert ("inactive" in codes or "never_active" in codes) == want["inactive"]
            assert ("never_active" in codes) == (want["inactive"] and want["never"])

        # With the cache on, the figures computed and then served from Redis are the same.
        app.config["INSIGHTS_CACHE_SECONDS"] = 4
        for _ in ("computed and kept", "served kept"):
            kept = service.department_summary(
                session, viewer=viewer, department_id=asked, week=data["ask_week"], now=data["now"]
            )
            assert kept == summary
            page, more = service.member_page(
                session,
                viewer=viewer,
                department_id=asked,
                week=data["ask_week"],
                now=data["now"],
                locales=["en"],
                after=None,
                only_follow_up=False,
                limit=100,
            ).rows()
            assert [row.as_dict(["en"]) for row in page] == [row.as_dict(["en"]) for row in rows]
            assert not more
    finally:
        app.config["INSIGHTS_CACHE_SECONDS"] = cache_seconds
        nested.rollback()


def _passes(session: Any, org_id: str) -> set[tuple[str, str, str | None, datetime]]:
    # Columns, not entities: the identity map would hand back the rows read before.
    return {
        (user_id, module_id, department_id, first_passed_at)
        for user_id, module_id, department_id, first_passed_at in session.execute(
            select(
                ModulePass.user_id,
                ModulePass.module_id,
                ModulePass.department_id,
                ModulePass.first_passed_at,
            ).where(ModulePass.org_id == org_id)
        )
    }
