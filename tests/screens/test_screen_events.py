"""`/screens/{token}/events`: the screen as Server-Sent Events, woken by the process's watcher.

The watcher's thread is off in tests (`SCREENS_WATCH_SECONDS=0`): each test ticks it itself,
in its own thread and session, so what a stream sends follows from what the test did."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from typing import Any

import orjson
import pytest
from flask.testing import FlaskClient
from prometheus_client import REGISTRY
from sqlalchemy import event
from sqlalchemy.orm import Session

from app import clock
from app.orgs.models import Department, User
from app.screens import rules, store, streams
from tests.conftest import auth_headers
from tests.gamification.play import play


@pytest.fixture
def watcher(session: Session) -> Iterator[streams.Watcher]:
    """The app's watcher, with a heartbeat and a lifetime no test waits for unless it sets
    them; every stream a test left open is closed after it."""
    found = streams.watcher()  # in the test's app context (`session`)
    saved = (found.heartbeat, found.lifetime, found.max_streams)
    found.heartbeat, found.lifetime = 3600.0, 3600.0
    yield found
    found.heartbeat, found.lifetime, found.max_streams = saved
    for channel in list(found._channels.values()):
        for stream in list(channel.streams):
            found.close(stream)


class Opened:
    """An open stream as the test client reads it: one chunk (what one wake-up sent) at a
    time."""

    def __init__(self, response: Any) -> None:
        self.response = response
        self._chunks = iter(response.response)

    def next_events(self) -> list[dict[str, str]]:
        return parse(next(self._chunks))

    def ended(self) -> bool:
        try:
            next(self._chunks)
        except StopIteration:
            return True
        return False

    def close(self) -> None:
        self.response.close()


def parse(chunk: bytes) -> list[dict[str, str]]:
    """The events (and bare fields, such as `retry`) of a chunk, field by field."""
    found = []
    for block in chunk.decode().split("\n\n"):
        if not block:
            continue
        fields: dict[str, str] = {}
        for line in block.split("\n"):
            name, _, value = line.partition(": ")
            fields[name] = fields[name] + "\n" + value if name in fields else value
        found.append(fields)
    return found


def open_stream(
    client: FlaskClient,
    screen: dict[str, Any],
    *,
    threaded: bool = True,
    peer: socket.socket | None = None,
    **kwargs: Any,
) -> Any:
    environ: dict[str, Any] = {"wsgi.multithread": threaded}
    if peer is not None:
        environ["gunicorn.socket"] = peer  # the connection to the TV, as gunicorn gives it
    return client.get(
        screen["path"] + "/events", buffered=False, environ_overrides=environ, **kwargs
    )


def tick(watcher: streams.Watcher, session: Session) -> None:
    watcher.tick(session, clock.now())


def test_a_stream_opens_with_the_screen_as_live_has_it(
    client: FlaskClient, screen: dict[str, Any], watcher: streams.Watcher
) -> None:
    live = client.get(screen["path"] + "/live")
    response = open_stream(client, screen)
    assert response.status_code == 200
    assert response.mimetype == "text/event-stream"
    assert response.headers["Cache-Control"] == "no-cache, private"
    assert "Content-Security-Policy" in response.headers
    opened = Opened(response)
    retry, first = opened.next_events()
    assert retry == {"retry": str(rules.STREAM_RETRY_MS)}
    assert first["event"] == "screen" and first["id"] == live.headers["ETag"]
    assert orjson.loads(first["data"]) == live.json
    assert watcher.open_streams() == 1
    opened.close()
    assert watcher.open_streams() == 0


def test_a_completed_module_is_an_event_and_nothing_else_is(
    client: FlaskClient,
    session: Session,
    screen: dict[str, Any],
    learner: User,
    module: Any,
    weekly_path: Any,
    frozen_clock: Any,
    watcher: streams.Watcher,
) -> None:
    opened = Opened(open_stream(client, screen))
    first = opened.next_events()[1]
    assert orjson.loads(first["data"])["path"] == {"done": 0, "of": 1}
    frozen_clock.advance(seconds=rules.RENDER_MIN_SECONDS)
    play(client, session, module, auth_headers(session, learner))
    tick(watcher, session)
    (changed,) = opened.next_events()
    assert changed["event"] == "screen" and changed["id"] != first["id"]
    data = orjson.loads(changed["data"])
    assert data["board"][0]["name"] == learner.display_name
    assert data["path"] == {"done": 1, "of": 1}
    assert changed["id"] == client.get(screen["path"] + "/live").headers["ETag"]
    # Nothing changed since: a tick sends nothing, and the next thing is the heartbeat.
    tick(watcher, session)
    watcher.heartbeat = 0.01
    assert opened.next_events() == [{"event": "ping", "data": "{}"}]
    opened.close()


def test_every_stream_of_the_department_is_woken_by_one_look_at_redis(
    client: FlaskClient,
    session: Session,
    screen: dict[str, Any],
    as_manager: dict[str, str],
    checkout: Department,
    warehouse: Department,
    as_admin: dict[str, str],
    learner: User,
    module: Any,
    frozen_clock: Any,
    watcher: streams.Watcher,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from tests.spies import count_calls

    other = client.post(
        "/api/v1/screens", json={"department_id": warehouse.id, "name": "Lager"}, headers=as_admin
    ).json
    other_screen = {"path": "/" + other["url"].split("://", 1)[1].split("/", 1)[1]}
    first, second = Opened(open_stream(client, screen)), Opened(open_stream(client, screen))
    theirs = Opened(open_stream(client, other_screen))
    for opened in (first, second, theirs):
        opened.next_events()
    frozen_clock.advance(seconds=rules.RENDER_MIN_SECONDS)
    play(client, session, module, auth_headers(session, learner))  # in the checkout
    batched = count_calls(monkeypatch, store, "read_states")
    single = count_calls(monkeypatch, store, "read_state")
    tick(watcher, session)
    assert len(batched) == 1 and single == []  # both departments, one round trip
    a, b = first.next_events(), second.next_events()
    assert a == b and a[0]["event"] == "screen"
    watcher.heartbeat = 0.01
    assert theirs.next_events()[0]["event"] == "ping"  # the warehouse did not change
    for opened in (first, second, theirs):
        opened.close()


def test_a_browser_that_has_the_screen_is_not_sent_it_again(
    client: FlaskClient, screen: dict[str, Any], watcher: streams.Watcher
) -> None:
    etag = client.get(screen["path"] + "/live").headers["ETag"]
    watcher.heartbeat = 0.01
    for how in ({"headers": {"Last-Event-ID": etag}}, {"query_string": {"last_event_id": etag}}):
        opened = Opened(open_stream(client, screen, **how))
        assert opened.next_events() == [{"retry": str(rules.STREAM_RETRY_MS)}]
        assert opened.next_events() == [{"event": "ping", "data": "{}"}]
        opened.close()
    stale = Opened(open_stream(client, screen, headers={"Last-Event-ID": '"something-older"'}))
    assert stale.next_events()[1]["id"] == etag
    stale.close()


def test_a_quiet_stream_sends_heartbeats_and_touches_no_database(
    client: FlaskClient, session: Session, screen: dict[str, Any], watcher: streams.Watcher
) -> None:
    opened = Opened(open_stream(client, screen))
    opened.next_events()
    watcher.heartbeat = 0.01
    seen: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        seen.append(statement)

    engine = session.get_bind().engine
    event.listen(engine, "before_cursor_execute", count)
    try:
        for _ in range(3):
            assert opened.next_events() == [{"event": "ping", "data": "{}"}]
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert seen == []
    opened.close()


def test_a_revoked_screen_is_told_it_stopped_and_its_stream_ends(
    client: FlaskClient,
    session: Session,
    screen: dict[str, Any],
    as_manager: dict[str, str],
    watcher: streams.Watcher,
) -> None:
    opened = Opened(open_stream(client, screen))
    opened.next_events()
    tick(watcher, session)  # still open: nothing to send
    assert client.delete(f"/api/v1/screens/{screen['id']}", headers=as_manager).status_code == 204
    tick(watcher, session)
    assert opened.next_events() == [{"event": "stopped", "data": "{}"}]
    assert opened.ended()
    assert watcher.open_streams() == 0
    assert open_stream(client, screen).status_code == 404


def test_a_tv_that_closed_its_connection_is_let_go_at_the_next_look(
    client: FlaskClient, session: Session, screen: dict[str, Any], watcher: streams.Watcher
) -> None:
    """Without writing to it: a TV gone must not hold a place under the cap for two
    heartbeats (after a load balancer restart every TV comes back at once)."""
    server_end, tv_end = socket.socketpair()
    try:
        opened = Opened(open_stream(client, screen, peer=server_end))
        opened.next_events()
        tick(watcher, session)  # the TV is still there: nothing happens
        assert watcher.open_streams() == 1
        tv_end.close()
        tick(watcher, session)
        watcher.heartbeat = 0.01  # a stream still held would send its heartbeat now
        assert opened.ended()  # ends without another word
        assert watcher.open_streams() == 0
    finally:
        server_end.close()


@pytest.mark.skipif(not hasattr(socket, "TCP_USER_TIMEOUT"), reason="Linux's TCP_USER_TIMEOUT")
def test_a_tv_whose_network_vanished_is_given_up_within_two_heartbeats(
    client: FlaskClient, screen: dict[str, Any], watcher: streams.Watcher
) -> None:
    """A vanished network sends no FIN: the kernel is told to end a connection whose writes
    (the heartbeats) go unacknowledged for two heartbeats, instead of about 15 minutes."""
    watcher.heartbeat = 15.0
    with socket.create_server(("127.0.0.1", 0)) as listener:
        tv_end = socket.create_connection(listener.getsockname())
        server_end, _ = listener.accept()
    try:
        assert server_end.getsockopt(socket.IPPROTO_TCP, socket.TCP_USER_TIMEOUT) == 0
        opened = Opened(open_stream(client, screen, peer=server_end))
        opened.next_events()
        assert server_end.getsockopt(socket.IPPROTO_TCP, socket.TCP_USER_TIMEOUT) == 30_000
        opened.close()
    finally:
        server_end.close()
        tv_end.close()


@pytest.mark.parametrize("token", ["short", "x" * 43, "%00" + "a" * 40])
def test_unknown_links_are_404(client: FlaskClient, token: str, watcher: streams.Watcher) -> None:
    answer = open_stream(client, {"path": f"/screens/{token}"})
    assert answer.status_code == 404
    assert answer.mimetype == "application/problem+json"
    assert watcher.open_streams() == 0


def _metric(name: str) -> float:
    return REGISTRY.get_sample_value(name) or 0.0


def test_beyond_the_cap_a_stream_is_refused_with_retry_after(
    client: FlaskClient, screen: dict[str, Any], watcher: streams.Watcher
) -> None:
    watcher.max_streams = 1
    open_before = _metric("nanolearn_screen_streams_open")
    refused_before = _metric("nanolearn_screen_streams_refused_total")
    opened = Opened(open_stream(client, screen))
    refused = open_stream(client, screen)
    assert refused.status_code == 503
    assert refused.mimetype == "application/problem+json"
    assert refused.headers["Retry-After"] == str(rules.STREAM_REFUSED_RETRY_AFTER_SECONDS)
    assert client.get(screen["path"] + "/live").status_code == 200  # what the page asks then
    # What operations watch: the TVs held, and those turned away at the cap.
    assert _metric("nanolearn_screen_streams_open") == open_before + 1
    assert _metric("nanolearn_screen_streams_refused_total") == refused_before + 1
    opened.close()
    assert _metric("nanolearn_screen_streams_open") == open_before
    again = open_stream(client, screen)
    assert again.status_code == 200
    again.close()


def test_a_server_that_cannot_hold_streams_refuses_them(
    client: FlaskClient, screen: dict[str, Any], watcher: streams.Watcher
) -> None:
    """gunicorn's sync workers: a stream would hold the worker (and be killed by its timeout)."""
    refused_before = _metric("nanolearn_screen_streams_refused_total")
    refused = open_stream(client, screen, threaded=False)
    assert refused.status_code == 503 and "Retry-After" in refused.headers
    assert watcher.open_streams() == 0
    assert _metric("nanolearn_screen_streams_refused_total") == refused_before + 1


def test_a_stream_ends_after_its_lifetime(
    client: FlaskClient, screen: dict[str, Any], watcher: streams.Watcher
) -> None:
    watcher.lifetime = 0
    opened = Opened(open_stream(client, screen))
    assert opened.next_events()[1]["event"] == "screen"
    assert opened.ended()
    assert watcher.open_streams() == 0


def test_with_redis_down_the_watcher_renders_from_the_database(
    client: FlaskClient,
    session: Session,
    screen: dict[str, Any],
    learner: User,
    module: Any,
    watcher: streams.Watcher,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import redis

    opened = Opened(open_stream(client, screen))
    first = opened.next_events()[1]
    play(client, session, module, auth_headers(session, learner))

    def down(*_args: Any, **_kwargs: Any) -> Any:
        raise redis.ConnectionError("down")

    monkeypatch.setattr(store, "read_states", down)
    tick(watcher, session)
    (changed,) = opened.next_events()
    assert changed["id"] != first["id"]
    assert orjson.loads(changed["data"])["board"][0]["name"] == learner.display_name
    opened.close()


def test_the_page_knows_where_its_stream_is(client: FlaskClient, screen: dict[str, Any]) -> None:
    html = client.get(screen["path"]).get_data(as_text=True)
    assert f'data-events="{screen["path"]}/events"' in html
    script = client.get("/static/screens/screen.js").get_data(as_text=True)
    assert "EventSource" in script
