"""Board reads come from per-process caches (names, privacy, departments, the repair marker,
the per-member ranking): every change must show on the next read, in this process and in
another app instance on the same Redis."""

from __future__ import annotations

import gzip
import json
import warnings

import pytest
from sqlalchemy.exc import SAWarning

from app import caching, create_app, db
from app.gamification import service as gamification
from tests import factories
from tests.conftest import SECRET, auth_headers
from tests.own_redis import dead_redis

USERS = "/api/v1/leaderboards/users"
ORG_BOARD = USERS + "?scope=organization"
DEPTS = "/api/v1/leaderboards/departments"


def announcements(redis_client, act) -> list[dict]:
    """The cache invalidations published while `act()` runs."""
    listener = redis_client.pubsub()
    listener.subscribe(caching.channel(redis_client))
    try:
        assert listener.get_message(timeout=1.0)["type"] == "subscribe"
        act()
        messages = []
        while (message := listener.get_message(timeout=1.0)) is not None:
            if message["type"] == "message":
                messages.append(json.loads(message["data"]))
        return messages
    finally:
        listener.close()


def shown(client, headers, url=ORG_BOARD):
    body = client.get(url, headers=headers)
    assert body.status_code == 200, body.json
    return [e["user"]["display_name"] for e in body.json["entries"]]


def departments(client, headers, metric="total"):
    body = client.get(f"{DEPTS}?metric={metric}", headers=headers)
    assert body.status_code == 200, body.json
    return [(e["department"]["name"], e["score"], e["members"]) for e in body.json["entries"]]


def test_a_rename_shows_on_the_next_read(client, session, played, colleague, as_learner, as_admin):
    assert shown(client, as_learner) == ["Learner", "Colleague", "Picker"]
    renamed = client.patch(
        f"/api/v1/admin/users/{colleague.id}", json={"display_name": "Kari"}, headers=as_admin
    )
    assert renamed.status_code == 200, renamed.json
    assert shown(client, as_learner) == ["Learner", "Kari", "Picker"]
    as_colleague = auth_headers(session, colleague)
    mine = client.patch("/api/v1/me", json={"display_name": "Kari N."}, headers=as_colleague)
    assert mine.status_code == 200, mine.json
    assert shown(client, as_learner) == ["Learner", "Kari N.", "Picker"]


def test_a_privacy_change_shows_on_the_next_read(client, session, played, colleague, picker):
    as_picker = auth_headers(session, picker)
    as_colleague = auth_headers(session, colleague)
    assert shown(client, as_picker) == ["Learner", "Colleague", "Picker"]
    for visibility, expected in (("department", "En kollega"), ("everyone", "Colleague")):
        changed = client.patch(
            "/api/v1/me", json={"leaderboard_visibility": visibility}, headers=as_colleague
        )
        assert changed.status_code == 200, changed.json
        assert shown(client, as_picker) == ["Learner", expected, "Picker"]


def test_moving_a_learner_changes_who_sees_their_name(
    client, session, played, colleague, picker, warehouse, as_learner, as_admin
):
    as_picker = auth_headers(session, picker)
    hidden = client.patch(
        "/api/v1/me",
        json={"leaderboard_visibility": "department"},
        headers=auth_headers(session, colleague),
    )
    assert hidden.status_code == 200
    assert shown(client, as_learner)[1] == "Colleague"  # the same department
    assert shown(client, as_picker)[1] == "En kollega"
    moved = client.patch(
        f"/api/v1/admin/users/{colleague.id}",
        json={"department_id": warehouse.id},
        headers=as_admin,
    )
    assert moved.status_code == 200, moved.json
    assert shown(client, as_learner)[1] == "En kollega"
    assert shown(client, as_picker)[1] == "Colleague"


def test_department_changes_show_on_the_next_read(
    client, session, org, played, colleague, checkout, warehouse, as_learner, as_admin
):
    assert departments(client, as_learner) == [("Kasse", 160, 2), ("Lager Nord", 35, 1)]
    renamed = client.patch(
        f"/api/v1/admin/departments/{checkout.id}", json={"name": "Kasse 1"}, headers=as_admin
    )
    assert renamed.status_code == 200, renamed.json
    assert departments(client, as_learner) == [("Kasse 1", 160, 2), ("Lager Nord", 35, 1)]
    assert departments(client, as_learner, "per_member")[0] == ("Kasse 1", 80, 2)

    # Managers: the boss of the warehouse sees a hidden Kasse learner only while managing Kasse.
    boss = factories.make_user(session, org, "boss", department=warehouse, roles=["manager"])
    as_boss = auth_headers(session, boss)
    client.patch(
        "/api/v1/me",
        json={"leaderboard_visibility": "department"},
        headers=auth_headers(session, colleague),
    )
    assert shown(client, as_boss)[1] == "En kollega"
    for manager_ids, expected in (([boss.id], "Colleague"), ([], "En kollega")):
        changed = client.patch(
            f"/api/v1/admin/departments/{checkout.id}",
            json={"manager_ids": manager_ids},
            headers=as_admin,
        )
        assert changed.status_code == 200, changed.json
        assert shown(client, as_boss)[1] == expected
    # A department board of a department one no longer manages is refused at once.
    refused = client.get(f"{USERS}?department_id={checkout.id}", headers=as_boss)
    assert refused.status_code == 403


def test_new_points_show_on_the_next_per_member_read(
    client, session, played, picker, as_learner, frozen_clock
):
    assert departments(client, as_learner, "per_member") == [
        ("Kasse", 80, 2),
        ("Lager Nord", 35, 1),
    ]
    now = frozen_clock.current
    gamification.award_points(
        session, user=picker, points=50, reason="Test", source_key="extra", earned_at=now, now=now
    )
    session.commit()
    assert departments(client, as_learner, "per_member") == [
        ("Lager Nord", 85, 1),
        ("Kasse", 80, 2),
    ]


def test_a_missed_board_update_is_repaired_on_the_next_read(
    app, client, session, played, picker, as_learner, frozen_clock, monkeypatch
):
    """The repair marker is cached as absent; a failed update must still be repaired next."""
    assert shown(client, as_learner) == ["Learner", "Colleague", "Picker"]
    assert shown(client, as_learner) == ["Learner", "Colleague", "Picker"]
    real = app.extensions["redis"]
    dead = dead_redis()
    monkeypatch.setitem(app.extensions, "redis", dead)
    now = frozen_clock.current
    gamification.award_points(
        session, user=picker, points=100, reason="Test", source_key="late", earned_at=now, now=now
    )
    session.commit()  # the board update fails: the organisation is marked for repair
    monkeypatch.setitem(app.extensions, "redis", real)
    assert shown(client, as_learner) == ["Picker", "Learner", "Colleague"]


@pytest.fixture
def second_app(app, session):
    """Another instance of the app on the same database connection and Redis."""
    bind = session.get_bind()
    with warnings.catch_warnings():  # "a scoped session is already present": it is this test's
        warnings.simplefilter("ignore", SAWarning)
        other = create_app(
            {
                "TESTING": True,
                "ENGINE": app.extensions["engine"],
                "REDIS_CLIENT": app.extensions["redis"],
                "REDIS_URL": app.config["REDIS_URL"],
                "SECRET_KEY": SECRET,
                "ACCESS_LOG": False,
                "MEDIA_DIR": app.config["MEDIA_DIR"],
            }
        )
        # create_app binds the shared session to the engine; keep this test's transaction.
        db.session.configure(bind=bind, join_transaction_mode="create_savepoint")
    return other


def test_a_second_app_instance_sees_the_change(
    client, session, played, colleague, second_app, as_learner, as_admin, redis_client
):
    session.commit()
    other = second_app.test_client()
    assert shown(other, as_learner) == ["Learner", "Colleague", "Picker"]
    assert shown(other, as_learner) == ["Learner", "Colleague", "Picker"]  # cached now

    def rename() -> None:
        renamed = client.patch(
            f"/api/v1/admin/users/{colleague.id}", json={"display_name": "Kari"}, headers=as_admin
        )
        assert renamed.status_code == 200

    messages = announcements(redis_client, rename)
    # What other processes act on: the renamed user's name dropped from every board cache.
    assert {"cache": "leaderboards.names", "keys": [colleague.id]} in messages
    assert shown(other, as_learner) == ["Learner", "Kari", "Picker"]


def test_an_unchanged_board_is_read_without_asking_redis_again(
    app, client, played, as_learner, monkeypatch
):
    urls = (ORG_BOARD, USERS, DEPTS, f"{DEPTS}?metric=per_member")
    # Twice: a per-member read asks once more, with the tag of the board it now holds.
    first = [client.get(url, headers=as_learner).json for url in urls * 2][len(urls) :]
    client_ = app.extensions["redis"]
    commands: list[tuple] = []
    original = client_.execute_command
    monkeypatch.setattr(
        client_,
        "execute_command",
        lambda *args, **kw: commands.append(args) or original(*args, **kw),
    )
    again = [client.get(url, headers=as_learner).json for url in urls]
    assert again == first
    assert commands == []


def test_a_board_update_is_announced_to_every_process(
    client, session, org, played, picker, as_learner, redis_client, frozen_clock
):
    assert shown(client, as_learner) == ["Learner", "Colleague", "Picker"]
    session.commit()

    def award() -> None:
        now = frozen_clock.current
        gamification.award_points(
            session, user=picker, points=100, reason="Test", source_key="x", earned_at=now, now=now
        )
        session.commit()

    messages = announcements(redis_client, award)
    # What the other processes act on: the organisation's remembered reads are dropped.
    assert {"cache": "leaderboards.reads", "keys": [org.id]} in messages
    # And this process dropped its own at once.
    assert shown(client, as_learner) == ["Picker", "Learner", "Colleague"]


def test_an_unchanged_users_board_is_rendered_once_per_viewer(
    client, session, played, colleague, as_learner, as_admin, monkeypatch
):
    from app.leaderboards import service as boards
    from tests.spies import count_calls

    renders = count_calls(monkeypatch, boards, "render_user_board")
    first = client.get(ORG_BOARD, headers=as_learner).json
    assert client.get(ORG_BOARD, headers=as_learner).json == first and renders == [1]
    gzipped = client.get(ORG_BOARD, headers={**as_learner, "Accept-Encoding": "gzip"})
    assert gzipped.headers["Content-Encoding"] == "gzip" and renders == [1]
    renamed = client.patch(
        f"/api/v1/admin/users/{colleague.id}", json={"display_name": "Kari"}, headers=as_admin
    )
    assert renamed.status_code == 200
    assert shown(client, as_learner) == ["Learner", "Kari", "Picker"] and len(renders) == 2


@pytest.mark.parametrize(
    ("accept_encoding", "gzipped"),
    [
        ("gzip", True),
        ("br, gzip;q=0.8", True),
        ("gzip;q=0", False),
        ("identity", False),
        (None, False),
    ],
)
def test_a_kept_body_is_gzipped_only_for_clients_that_accept_gzip(
    client, played, as_learner, accept_encoding, gzipped
):
    plain = client.get(ORG_BOARD, headers={**as_learner, "Accept-Encoding": "identity"}).json
    headers = dict(as_learner)
    if accept_encoding is not None:
        headers["Accept-Encoding"] = accept_encoding
    for _ in range(2):  # the second from what the first remembered about the header
        response = client.get(ORG_BOARD, headers=headers)
        assert (response.headers.get("Content-Encoding") == "gzip") is gzipped
        body = response.get_data()  # the test client does not unzip
        assert json.loads(gzip.decompress(body) if gzipped else body) == plain


def test_an_unchanged_departments_board_is_rendered_once_per_department(
    client, session, played, colleague, picker, as_learner, frozen_clock, monkeypatch
):
    from app.leaderboards import service as boards
    from tests.spies import count_calls

    renders = count_calls(monkeypatch, boards, "render_department_board")
    url = DEPTS + "?metric=per_member"
    first = client.get(url, headers=as_learner).json
    assert first["mine"]["department"]["name"] == "Kasse"
    # The colleague is in the learner's department: the same body, not rendered again.
    assert client.get(url, headers=auth_headers(session, colleague)).json == first
    gzipped = client.get(url, headers={**as_learner, "Accept-Encoding": "gzip"})
    assert gzipped.headers["Content-Encoding"] == "gzip" and renders == [1]
    # The picker's department is another: its own body, with its own `mine`.
    as_picker = auth_headers(session, picker)
    assert client.get(url, headers=as_picker).json["mine"]["department"]["name"] == "Lager Nord"
    assert len(renders) == 2
    now = frozen_clock.current
    gamification.award_points(
        session, user=picker, points=50, reason="Test", source_key="extra", earned_at=now, now=now
    )
    session.commit()
    assert departments(client, as_learner, "per_member")[0] == ("Lager Nord", 85, 1)
    assert len(renders) == 3
