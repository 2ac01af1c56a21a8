"""Kept figures (`kept.figures`) with a real Redis and a real thread: a refresh runs beside
the requests, once, and what it computed is what they get next."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

from sqlalchemy.orm import Session

from app.insights import kept


def test_a_refresh_runs_in_a_thread_of_its_own_once_and_is_kept(app, engine, session, monkeypatch):
    monkeypatch.setitem(app.config, "INSIGHTS_CACHE_SECONDS", 4)
    computed: list[tuple[str, bool]] = []
    release = threading.Event()

    def compute(own: Session) -> dict:
        computed.append((threading.current_thread().name, own.get_bind() is engine))
        if len(computed) > 1:
            release.wait(10)  # the refresh takes its time
        return {"computed": len(computed)}

    now = datetime(2026, 11, 25, 10, tzinfo=UTC)
    args = ("org-kept", "summary", "d1", "2026-W48")
    with Session(bind=engine) as request_session:
        assert kept.figures(request_session, *args, now, compute).data == {"computed": 1}
        assert computed == [(threading.current_thread().name, True)]  # nothing kept: at once
        half = now + timedelta(seconds=3)
        # A second before the bound: the kept figures at once, and one refresh beside...
        assert kept.figures(request_session, *args, half, compute).data == {"computed": 1}
        # ...which no other request starts again while it runs.
        assert kept.figures(request_session, *args, half, compute).data == {"computed": 1}
        release.set()
        kept.wait_for_refreshes()
        assert len(computed) == 2
        name, own_engine = computed[1]
        assert name != threading.current_thread().name and own_engine
        assert kept.figures(request_session, *args, half, compute).data == {"computed": 2}
        # The refresh counts from the moment it was asked for: still young here.
        assert kept.figures(request_session, *args, half + timedelta(seconds=1), compute).data == {
            "computed": 2
        }
        assert len(computed) == 2


def test_figures_being_computed_are_waited_for_not_computed_again(
    app, engine, session, monkeypatch
):
    monkeypatch.setitem(app.config, "INSIGHTS_CACHE_SECONDS", 4)
    calls: list[str] = []
    started, release = threading.Event(), threading.Event()

    def compute(own: Session) -> dict:
        calls.append(threading.current_thread().name)
        started.set()
        release.wait(10)  # a region's second or two
        return {"computed": len(calls)}

    now = datetime(2026, 11, 25, 10, tzinfo=UTC)
    args = ("org-kept", "summary", "d2", "2026-W48", now, compute)
    got: list[dict] = []

    def first_request() -> None:
        with app.app_context(), Session(bind=engine) as own:
            got.append(kept.figures(own, *args).data)

    first = threading.Thread(target=first_request)
    first.start()
    assert started.wait(10)
    threading.Timer(0.3, release.set).start()
    with Session(bind=engine) as request_session:
        # Nothing kept yet, but another request holds the claim: wait for its figures.
        assert kept.figures(request_session, *args).data == {"computed": 1}
    first.join(10)
    assert got == [{"computed": 1}] and len(calls) == 1
