"""`Idempotency-Key` on progress POSTs: the same key and body replay the first answer."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from datetime import timedelta
from functools import cache, wraps
from typing import Any, TypeVar, cast

from flask import current_app, request
from flask_smorest import Blueprint
from sqlalchemy import bindparam, delete
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app import clock, db
from app.auth.guard import current_principal
from app.db import insert_for
from app.errors import AppError, Conflict, Unprocessable
from app.idempotency.models import IdempotentResponse

F = TypeVar("F", bound=Callable[..., Any])

HEADER = "Idempotency-Key"
REPLAY_HEADER = "Idempotent-Replayed"
MAX_KEY_LENGTH = 255
_CONTROL = frozenset(map(chr, [*range(0x20), 0x7F]))

_HEADER_DOC = {
    "name": HEADER,
    "in": "header",
    "required": False,
    "description": (
        "Any string up to 255 characters. The same key with the same body replays the first "
        "response (with `Idempotent-Replayed: true`); with a different body: 422."
    ),
    "schema": {"type": "string", "maxLength": MAX_KEY_LENGTH},
}


def _request_fingerprint() -> str:
    raw = request.get_data()
    # The body as the app's JSON path read it (the standard library's own parse would fail
    # with a RecursionError, not a ValueError, on deep nesting).
    body = request.get_json(silent=True) if request.is_json and raw else None
    if body is None:
        canonical = raw
    else:
        canonical = json.dumps(body, sort_keys=True, separators=(",", ":")).encode()
    return hashlib.sha256(request.path.encode() + b"\n" + canonical).hexdigest()


def _find(session: Session, user_id: str, scope: str, key: str) -> IdempotentResponse | None:
    record = session.get(IdempotentResponse, (user_id, scope, key))
    if record is None:
        return None
    keep = timedelta(hours=current_app.config["IDEMPOTENCY_HOURS"])
    if record.created_at < clock.now() - keep:
        session.delete(record)
        session.flush()
        return None
    return record


def _replay(record: IdempotentResponse, fingerprint: str) -> Any:
    if record.request_hash != fingerprint:
        raise Unprocessable(
            "This Idempotency-Key was used with a different request.",
            errors={HEADER: ["Reused with a different body; use a new key."]},
        )
    response = current_app.json.response(record.body)
    response.status_code = record.status_code
    response.headers[REPLAY_HEADER] = "true"
    return response


class _KeyTaken(Conflict):
    """A response under this key was stored while this request ran."""


_responses = IdempotentResponse.__table__


@cache
def _store_statement(dialect_name: str) -> Any:
    # Built once per dialect (its compiled form is reused). A stored response past the
    # retention is replaced; a fresh one stays, and RETURNING then gives no row.
    insert = insert_for(dialect_name)(_responses)
    return insert.on_conflict_do_update(
        index_elements=["user_id", "scope", "key"],
        set_={
            column: insert.excluded[column]
            for column in ("request_hash", "status_code", "body", "created_at")
        },
        where=_responses.c.created_at < bindparam("expired_before"),
    ).returning(_responses.c.key)


def _store(
    session: Session, *, user_id: str, scope: str, key: str, fingerprint: str, response: Any
) -> bool:
    """Store the response under the key, in the view's transaction; False when a fresh
    response is stored under it already."""
    now = clock.now()
    connection = session.connection()
    stored = connection.execute(
        _store_statement(connection.dialect.name),
        {
            "user_id": user_id,
            "scope": scope,
            "key": key,
            "request_hash": fingerprint,
            "status_code": response.status_code,
            "body": response.get_json(),
            "created_at": now,
            "expired_before": now - timedelta(hours=current_app.config["IDEMPOTENCY_HOURS"]),
        },
    ).first()
    return stored is not None


def idempotent(blp: Blueprint, *, lookup_first: bool = True) -> Callable[[F], F]:
    """Make a progress POST safe to retry. The wrapped view must not commit: this commits
    the change together with the stored response, so neither exists without the other.

    `lookup_first=False` saves the lookup before the view, for views whose repeat fails
    by itself (answering a question twice is a 409) and that change nothing outside the
    transaction before it commits: a retry runs the view, and when it fails, or when storing
    its response finds the first one, everything is rolled back and the first is replayed.
    """
    replay_after: tuple[type[Exception], ...] = (
        (Conflict, IntegrityError) if lookup_first else (AppError, IntegrityError)
    )

    def decorator(view: F) -> F:
        @wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            key = request.headers.get(HEADER)
            if key is None:
                response = view(*args, **kwargs)
                db.session.commit()
                return response
            # Stored in the database, which cannot hold NUL; gunicorn refuses control
            # characters in headers, but not every server in front of the app does.
            if not key or len(key) > MAX_KEY_LENGTH or not _CONTROL.isdisjoint(key):
                raise Unprocessable(
                    "Bad Idempotency-Key.",
                    errors={HEADER: ["Must be 1 to 255 characters, none of them control."]},
                )
            session = db.session()
            user_id = current_principal().id
            scope = f"{request.method} {request.url_rule.rule if request.url_rule else ''}"
            fingerprint = _request_fingerprint()
            if lookup_first:
                record = _find(session, user_id, scope, key)
                if record is not None:
                    return _replay(record, fingerprint)
            try:
                response = view(*args, **kwargs)
                if response.status_code < 300 and not _store(
                    session,
                    user_id=user_id,
                    scope=scope,
                    key=key,
                    fingerprint=fingerprint,
                    response=response,
                ):
                    raise _KeyTaken("This Idempotency-Key was used just now; retry.")
                db.session.commit()
                return response
            except replay_after:
                # A request with the same key may have been answered before or concurrently
                # (a concurrent one's change makes ours conflict); if so, answer as it did.
                db.session.rollback()
                record = _find(db.session(), user_id, scope, key)
                if record is None:
                    raise
                return _replay(record, fingerprint)

        wrapped = blp.doc(parameters=[_HEADER_DOC])(wrapper)
        return cast(F, wrapped)

    return decorator


def purge_expired(session: Session, *, hours: int) -> int:
    """Delete stored responses older than the retention (a scheduled job)."""
    cutoff = clock.now() - timedelta(hours=hours)
    result = session.execute(
        delete(IdempotentResponse).where(IdempotentResponse.created_at < cutoff)
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]
