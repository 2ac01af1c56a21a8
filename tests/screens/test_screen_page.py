"""`/screens/{token}`: what the TV shows, its live data with ETags, and its headers."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import event
from sqlalchemy.orm import Session

from app import clock
from app.gamification import service as gamification
from app.orgs.models import Department, User
from app.screens import rules, service
from tests import factories
from tests.conftest import auth_headers
from tests.gamification.play import play


def live(client: FlaskClient, screen: dict[str, Any], etag: str | None = None) -> Any:
    headers = {"If-None-Match": etag} if etag else {}
    return client.get(screen["path"] + "/live", headers=headers)


def test_the_page_is_html_with_a_strict_policy_and_no_secrets_leaking(
    client: FlaskClient, screen: dict[str, Any], checkout: Department
) -> None:
    page = client.get(screen["path"])
    assert page.status_code == 200
    assert page.mimetype == "text/html"
    policy = page.headers["Content-Security-Policy"]
    assert "script-src 'self'" in policy and "default-src 'none'" in policy
    assert "unsafe-inline" not in policy and "frame-ancestors 'none'" in policy
    assert page.headers["Referrer-Policy"] == "no-referrer"
    assert page.headers["Cache-Control"] == "no-store"
    html = page.get_data(as_text=True)
    assert checkout.name in html
    assert "<script>" not in html and " on" + "load=" not in html  # no inline code
    script = client.get("/static/screens/screen.js")
    assert script.status_code == 200 and "If-None-Match" in script.get_data(as_text=True)


def test_the_board_shows_names_points_and_ranks_and_nothing_else(
    client: FlaskClient,
    session: Session,
    screen: dict[str, Any],
    learner: User,
    colleague: User,
    module: Any,
) -> None:
    gamification.set_leaderboard_visibility(session, user=colleague, visibility="department")
    play(client, session, module, auth_headers(session, learner))
    play(client, session, module, auth_headers(session, colleague), wrong=1)
    data = live(client, screen).json
    assert [(e["rank"], e["name"]) for e in data["board"]] == [
        (1, learner.display_name),
        (2, "en kollega"),
    ]
    assert data["board"][0]["points"] > data["board"][1]["points"] > 0
    assert set(data["board"][0]) == {"rank", "name", "points"}
    text = client.get(screen["path"]).get_data(as_text=True) + str(data)
    for secret in (learner.id, colleague.id, learner.username, colleague.username, "colleague"):
        # the colleague's username is "colleague"; "en kollega" is the Norwegian stand-in
        assert secret not in text.replace("en kollega", ""), secret
    assert colleague.display_name not in text


def test_names_are_escaped(
    client: FlaskClient, session: Session, screen: dict[str, Any], learner: User, module: Any
) -> None:
    learner.display_name = '<img src=x onerror="alert(1)">'
    session.flush()
    play(client, session, module, auth_headers(session, learner))
    html = client.get(screen["path"]).get_data(as_text=True)
    assert "<img src=x" not in html
    assert "&lt;img src=x onerror=&#34;alert(1)&#34;&gt;" in html


def test_live_data_answers_304_until_something_changes(
    client: FlaskClient,
    session: Session,
    screen: dict[str, Any],
    learner: User,
    module: Any,
    weekly_path: Any,
    frozen_clock: Any,
) -> None:
    first = live(client, screen)
    assert first.status_code == 200 and first.json["board"] == []
    assert first.json["path"] == {"done": 0, "of": 1}
    etag = first.headers["ETag"]
    assert first.headers["X-Content-Type-Options"] == "nosniff"
    unchanged = live(client, screen, etag)
    assert unchanged.status_code == 304 and unchanged.headers["ETag"] == etag
    # No body, nothing for the page headers to guard: the TVs' usual answer stays small.
    assert "Content-Security-Policy" not in unchanged.headers
    assert live(client, screen, etag[:-1] + ':gzip"').status_code == 304  # flask-compress
    frozen_clock.advance(seconds=rules.RENDER_MIN_SECONDS)
    play(client, session, module, auth_headers(session, learner))
    changed = live(client, screen, etag)
    assert changed.status_code == 200
    assert changed.headers["ETag"] != etag
    assert changed.json["board"][0]["name"] == learner.display_name
    assert changed.json["path"] == {"done": 1, "of": 1}
    assert live(client, screen, changed.headers["ETag"]).status_code == 304


def test_a_department_busy_answering_is_rendered_at_most_every_few_seconds(
    client: FlaskClient,
    session: Session,
    screen: dict[str, Any],
    learner: User,
    module: Any,
    frozen_clock: Any,
) -> None:
    etag = live(client, screen).headers["ETag"]
    play(client, session, module, auth_headers(session, learner))
    assert live(client, screen, etag).status_code == 304  # rendered just now: kept
    frozen_clock.advance(seconds=rules.RENDER_MIN_SECONDS - 1)
    assert live(client, screen, etag).status_code == 304
    frozen_clock.advance(seconds=1)
    changed = live(client, screen, etag)
    assert changed.status_code == 200
    assert changed.json["board"][0]["name"] == learner.display_name


def test_path_completion_follows_the_paths_audience(
    client: FlaskClient,
    session: Session,
    screen: dict[str, Any],
    admin: User,
    learner: User,
    colleague: User,
    module: Any,
    warehouse: Department,
    checkout: Department,
    frozen_clock: Any,
) -> None:
    from app.paths import rules as path_rules
    from app.paths import service as paths

    week = path_rules.week_of(clock.now(), "Europe/Oslo")
    other = factories.publish_module(session, learner.organization, factories.module_document())
    paths.create_path(  # for the warehouse only: not this department's
        session,
        user=admin,
        title="Lager",
        modules=[{"module_id": other.id, "mandatory": True}],
        week=week,
        audience={"department_ids": [warehouse.id]},
        now=clock.now(),
    )
    paths.create_path(  # for managers only: nobody here
        session,
        user=admin,
        title="Ledere",
        modules=[{"module_id": other.id, "mandatory": True}],
        week=week,
        audience={"roles": ["manager"]},
        now=clock.now(),
    )
    assert live(client, screen).json["path"] is None
    paths.create_path(
        session,
        user=admin,
        title="Kassa",
        modules=[{"module_id": module.id, "mandatory": True}],
        week=week,
        audience={"department_ids": [checkout.id]},
        now=clock.now(),
    )
    play(client, session, module, auth_headers(session, colleague))
    frozen_clock.advance(seconds=rules.QUIET_REFRESH_SECONDS)
    assert live(client, screen).json["path"] == {"done": 1, "of": 2}


def test_the_time_of_the_last_change_stays_while_nothing_changes(
    client: FlaskClient, screen: dict[str, Any], frozen_clock: Any
) -> None:
    first = live(client, screen).json
    frozen_clock.advance(seconds=rules.QUIET_REFRESH_SECONDS * 2)  # a new refresh window
    again = live(client, screen)
    assert again.json["changed_at"] == first["changed_at"]


def test_the_page_is_in_the_organisations_language(
    client: FlaskClient, session: Session, screen: dict[str, Any], org: Any
) -> None:
    assert "Ukens toppliste" in client.get(screen["path"]).get_data(as_text=True)
    org.default_locale = "en"
    session.flush()
    from app import caching

    caching.clear_all()  # the screen's facts are kept per process for a while
    html = client.get(screen["path"]).get_data(as_text=True)
    assert "This week&#39;s leaderboard" in html and 'lang="en"' in html


def test_the_departments_place_in_its_competition(
    client: FlaskClient,
    session: Session,
    screen: dict[str, Any],
    as_manager: dict[str, str],
    as_admin: dict[str, str],
    checkout: Department,
    warehouse: Department,
    learner: User,
    module: Any,
) -> None:
    started = client.post(
        "/api/v1/competitions",
        json={
            "title": "Desemberdysten",
            "starts_at": (clock.now() - timedelta(hours=1)).isoformat(),
            "ends_at": (clock.now() + timedelta(days=7)).isoformat(),
            "metric": "total",
            "department_ids": [checkout.id, warehouse.id],
        },
        headers=as_admin,
    )
    assert started.status_code == 201, started.json
    play(client, session, module, auth_headers(session, learner))
    competition = live(client, screen).json["competition"]
    assert competition["title"] == "Desemberdysten"
    assert (competition["rank"], competition["of"]) == (1, 2)
    assert [leader["department"] for leader in competition["leaders"]] == [
        checkout.name,
        warehouse.name,
    ]
    assert competition["leaders"][0]["ours"] is True
    assert "Kasse ligger på 1. plass av 2" in client.get(screen["path"]).get_data(as_text=True)


@pytest.mark.parametrize(
    "token",
    ["short", "x" * 43, "a" * 200, "%00" + "a" * 40],
)
def test_unknown_links_are_404(client: FlaskClient, token: str) -> None:
    assert client.get(f"/screens/{token}").status_code == 404
    assert client.get(f"/screens/{token}/live").status_code == 404


def test_live_data_without_redis_still_renders(
    client: FlaskClient, screen: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    import redis

    from app.screens import store

    def down(*_args: Any, **_kwargs: Any) -> Any:
        raise redis.ConnectionError("down")

    monkeypatch.setattr(store, "read_state", down)
    first = live(client, screen)
    assert first.status_code == 200
    assert live(client, screen, first.headers["ETag"]).status_code == 304


def test_another_departments_screen_shows_only_its_own_people(
    client: FlaskClient,
    session: Session,
    as_manager: dict[str, str],
    as_admin: dict[str, str],
    store: Department,
    warehouse: Department,
    learner: User,
    module: Any,
    org: Any,
) -> None:
    def live(made: dict[str, Any]) -> list[dict[str, Any]]:
        path = "/" + made["url"].split("://", 1)[1].split("/", 1)[1]
        board: list[dict[str, Any]] = client.get(path + "/live").json["board"]
        return board

    mine = client.post(
        "/api/v1/screens", json={"department_id": store.id, "name": "Butikk"}, headers=as_manager
    ).json
    theirs = client.post(
        "/api/v1/screens", json={"department_id": warehouse.id, "name": "Lager"}, headers=as_admin
    ).json
    play(client, session, module, auth_headers(session, learner))  # learner is in checkout
    assert live(theirs) == []
    # The store is split into departments: its screen counts everyone below it.
    assert [(row["name"], row["points"]) for row in live(mine)] == [("Learner", 80)]
    assert factories  # the module fixture comes from factories


def statements_during(session: Session, request: Any) -> tuple[Any, list[str]]:
    seen: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if not statement.lstrip().upper().startswith(("SAVEPOINT", "RELEASE", "ROLLBACK")):
            seen.append(statement)

    engine = session.get_bind().engine
    event.listen(engine, "before_cursor_execute", count)
    try:
        response = request()
    finally:
        event.remove(engine, "before_cursor_execute", count)
    return response, seen


def test_a_quiet_poll_costs_one_redis_round_trip_and_no_query(
    client: FlaskClient,
    session: Session,
    screen: dict[str, Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from app.screens import store
    from tests.spies import count_calls

    etag = live(client, screen).headers["ETag"]
    assert live(client, screen, etag).status_code == 304  # the per-process caches are warm
    reads = count_calls(monkeypatch, store, "read_state")
    renders = count_calls(monkeypatch, service, "screen_content")
    for _ in range(3):
        answer, statements = statements_during(session, lambda: live(client, screen, etag))
        assert answer.status_code == 304 and statements == []
    assert len(reads) == 3 and renders == []


def test_a_screen_does_not_make_the_next_answer_announce_itself(
    client: FlaskClient,
    session: Session,
    screen: dict[str, Any],
    learner: User,
    module: Any,
    org: Any,
    redis_client: Any,
    frozen_clock: Any,
) -> None:
    """A remembered board read marks the organisation's boards as read, so that the next
    change is announced to every process (a wake-up each). Neither a TV's poll nor its
    rendering must, or a stream of answers under 500 TVs would announce itself all day."""
    from app.leaderboards import store as boards

    play(client, session, module, auth_headers(session, learner))
    redis_client.delete(boards.reads_held_key(org.id))
    first = live(client, screen)  # rendered: reads the department's board
    assert first.status_code == 200 and first.json["board"]
    for _ in range(3):
        assert live(client, screen, first.headers["ETag"]).status_code == 304
    assert redis_client.exists(boards.reads_held_key(org.id)) == 0
    # A board read of the app's (a learner's) still marks it.
    assert (
        client.get(
            "/api/v1/leaderboards/users?scope=department&window=week",
            headers=auth_headers(session, learner),
        ).status_code
        == 200
    )
    assert redis_client.exists(boards.reads_held_key(org.id)) == 1


def test_path_completion_is_recomputed_when_a_module_is_completed_not_at_every_answer(
    client: FlaskClient,
    session: Session,
    screen: dict[str, Any],
    learner: User,
    colleague: User,
    module: Any,
    weekly_path: Any,
    frozen_clock: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from app import caching
    from app.screens import queries
    from tests.spies import count_calls

    caching.start(client.application.extensions["redis"])  # as a serving process does
    wait_for_subscription()
    first = live(client, screen)
    assert first.json["path"] == {"done": 0, "of": 2}
    computed = count_calls(monkeypatch, queries, "department_weeks")
    headers = auth_headers(session, learner)
    started = client.post(f"/api/v1/modules/{module.id}/attempts", headers=headers).json
    version = factories.current_version(session, module)
    etag = first.headers["ETag"]
    for question_id, choices in factories.correct_choices(version).items():
        frozen_clock.advance(seconds=rules.RENDER_MIN_SECONDS)
        answered = client.post(
            f"/api/v1/attempts/{started['id']}/answers",
            json={"question_id": question_id, "choice_ids": choices},
            headers=headers,
        )
        assert answered.status_code == 201
        polled = live(client, screen, etag)
        assert polled.status_code == 200  # the board moved: rendered anew
        etag = polled.headers["ETag"]
    assert computed == []  # answers move the board, not the path completion
    frozen_clock.advance(seconds=rules.RENDER_MIN_SECONDS)
    done = client.post(f"/api/v1/attempts/{started['id']}/complete", headers=headers)
    assert done.status_code == 200 and done.json["passed"] is True
    after = live(client, screen, etag)
    assert after.status_code == 200 and after.json["path"] == {"done": 1, "of": 2}
    assert len(computed) == 1


def test_the_screens_of_one_department_share_one_rendering(
    client: FlaskClient,
    as_manager: dict[str, str],
    checkout: Department,
    screen: dict[str, Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    second = client.post(
        "/api/v1/screens",
        json={"department_id": checkout.id, "name": "Kontoret"},
        headers=as_manager,
    ).json
    second_path = "/" + second["url"].split("://", 1)[1].split("/", 1)[1]
    first = live(client, screen)
    from tests.spies import count_calls

    renders = count_calls(monkeypatch, service, "screen_content")
    other = client.get(second_path + "/live")
    assert other.status_code == 200 and renders == []  # the first screen's rendering
    assert other.headers["ETag"] == first.headers["ETag"] and other.json == first.json
    assert "Kontoret" not in other.get_data(as_text=True)
    assert "Pauserommet" not in first.get_data(as_text=True)


def test_a_failed_module_is_not_done_on_the_screen(
    client: FlaskClient,
    session: Session,
    screen: dict[str, Any],
    learner: User,
    module: Any,
    weekly_path: Any,
) -> None:
    version = factories.current_version(session, module)
    questions = len(factories.correct_choices(version))
    failed = play(client, session, module, auth_headers(session, learner), wrong=questions)
    assert failed["passed"] is False
    assert live(client, screen).json["path"] == {"done": 0, "of": 1}


def wait_for_subscription() -> None:
    import time

    from app import caching

    deadline = time.monotonic() + 10
    while not caching._bus.subscribed() and time.monotonic() < deadline:
        time.sleep(0.01)
    assert caching._bus.subscribed()


def test_a_stores_screen_counts_the_people_of_its_sub_departments(
    client: FlaskClient,
    session: Session,
    as_manager: dict[str, str],
    store: Department,
    learner: User,
    colleague: User,
    module: Any,
    weekly_path: Any,
    frozen_clock: Any,
) -> None:
    """A store split into sub-departments: its TV's path completion counts everyone below it
    (as its board does), and a completion in a sub-department reaches the store's screen."""
    created = client.post(
        "/api/v1/screens",
        json={"department_id": store.id, "name": "Pauserommet"},
        headers=as_manager,
    )
    assert created.status_code == 201, created.json
    store_screen = {"path": "/" + created.json["url"].split("://", 1)[1].split("/", 1)[1]}
    first = live(client, store_screen)
    # The manager (placed in the store) and the two people of the checkout below it.
    assert first.json["path"] == {"done": 0, "of": 3}
    frozen_clock.advance(seconds=rules.RENDER_MIN_SECONDS)
    play(client, session, module, auth_headers(session, learner))
    after = live(client, store_screen, first.headers["ETag"])
    assert after.status_code == 200 and after.json["path"] == {"done": 1, "of": 3}
