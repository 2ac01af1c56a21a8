"""`Idempotency-Key` on progress POSTs: the same key and body replay the first answer."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from datetime import timedelta
from functools import wraps
from typing import Any, TypeVar, cast

from flask import current_app, request
from flask_smorest import Blueprint
from sqlalchemy import delete
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app import clock, db
from app.auth.guard import current_user
from app.errors import Conflict, Unprocessable
from app.idempotency.models import IdempotentResponse

F = TypeVar("F", bound=Callable[..., Any])

HEADER = "Idempotency-Key"
REPLAY_HEADER = "Idempotent-Replayed"
MAX_KEY_LENGTH = 255

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
    try:
        canonical = json.dumps(json.loads(raw), sort_keys=True, separators=(",", ":")).encode()
    except ValueError:
        canonical = raw
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


def idempotent(blp: Blueprint) -> Callable[[F], F]:
    """Make a progress POST safe to retry. The wrapped view must not commit: this commits
    the change together with the stored response, so neither exists without the other."""

    def decorator(view: F) -> F:
        @wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            key = request.headers.get(HEADER)
            if key is None:
                response = view(*args, **kwargs)
                db.session.commit()
                return response
            if not key or len(key) > MAX_KEY_LENGTH:
                raise Unprocessable(
                    "Bad Idempotency-Key.", errors={HEADER: ["Must be 1 to 255 characters."]}
                )
            session = db.session()
            user_id = current_user().id
            scope = f"{request.method} {request.url_rule.rule if request.url_rule else ''}"
            fingerprint = _request_fingerprint()
            record = _find(session, user_id, scope, key)
            if record is not None:
                return _replay(record, fingerprint)
            try:
                response = view(*args, **kwargs)
                if response.status_code < 300:
                    session.add(
                        IdempotentResponse(
                            user_id=user_id,
                            scope=scope,
                            key=key,
                            request_hash=fingerprint,
                            status_code=response.status_code,
                            body=response.get_json(),
                            created_at=clock.now(),
                        )
                    )
                db.session.commit()
                return response
            except (IntegrityError, Conflict):
                # A concurrent request with the same key may have won the race (its change
                # makes ours conflict); if so, answer as it did.
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
