"""Side effects registered with `after_commit` run only when the change is committed."""

from app import db
from app.orgs.models import Organization


def test_callbacks_run_after_commit_once(session):
    fired: list[str] = []
    db.after_commit(session, lambda: fired.append("pushed"))
    session.add(Organization(slug="cb", name="Callbacks", settings={}))
    session.commit()
    session.commit()
    assert fired == ["pushed"]


def test_a_rollback_drops_waiting_callbacks(session):
    fired: list[str] = []
    db.after_commit(session, lambda: fired.append("never"))
    session.rollback()
    session.commit()
    assert fired == []


def test_a_rolled_back_savepoint_keeps_earlier_callbacks(session):
    fired: list[str] = []
    db.after_commit(session, lambda: fired.append("kept"))
    savepoint = session.begin_nested()
    session.add(Organization(slug="sp", name="Savepoint", settings={}))
    savepoint.rollback()
    session.commit()
    assert fired == ["kept"]


def test_a_failing_callback_does_not_fail_the_commit(session):
    fired: list[str] = []
    db.after_commit(session, lambda: 1 / 0)
    db.after_commit(session, lambda: fired.append("next"))
    session.commit()
    assert fired == ["next"]
