"""Domain errors and the one place that renders every error as RFC 9457 problem+json."""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, Response, current_app, json
from sqlalchemy.exc import IntegrityError
from werkzeug.exceptions import HTTPException

log = logging.getLogger(__name__)

PROBLEM_MIMETYPE = "application/problem+json"
PROBLEM_BASE = "https://nanolearn.example/problems/"


class AppError(Exception):
    """An error a service raises on purpose; its status and text reach the client."""

    status = 400
    title = "Bad request"
    kind = "bad-request"

    def __init__(
        self,
        detail: str | None = None,
        *,
        errors: dict[str, list[str]] | None = None,
        headers: dict[str, str] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(detail or self.title)
        self.detail = detail or self.title
        self.errors = errors
        self.headers = headers or {}
        self.extra = extra or {}


class Unauthorized(AppError):
    status, title, kind = 401, "Unauthorized", "unauthorized"


class Forbidden(AppError):
    status, title, kind = 403, "Forbidden", "forbidden"


class NotFound(AppError):
    status, title, kind = 404, "Not found", "not-found"


class Conflict(AppError):
    status, title, kind = 409, "Conflict", "conflict"


class Locked(Conflict):
    """A module the learner may not start yet; 409 as the contract says, with the reason."""

    title, kind = "Module locked", "module-locked"


class PreconditionFailed(AppError):
    status, title, kind = 412, "Precondition failed", "precondition-failed"


class PreconditionRequired(AppError):
    status, title, kind = 428, "Precondition required", "precondition-required"


class UnsupportedMediaType(AppError):
    status, title, kind = 415, "Unsupported media type", "unsupported-media-type"


class Unprocessable(AppError):
    status, title, kind = 422, "Validation failed", "validation-failed"


class TooManyRequests(AppError):
    status, title, kind = 429, "Too many requests", "rate-limited"


class ServiceUnavailable(AppError):
    # The same `type` as a 503 of the framework's (not in the table below, which would change
    # their title).
    status, title, kind = 503, "Service unavailable", "service-unavailable"


_APP_ERRORS_BY_STATUS: dict[int, type[AppError]] = {
    kind.status: kind
    for kind in (
        Unauthorized,
        Forbidden,
        NotFound,
        Conflict,
        PreconditionFailed,
        PreconditionRequired,
        UnsupportedMediaType,
        Unprocessable,
        TooManyRequests,
    )
}


def problem(
    status: int,
    title: str,
    detail: str,
    *,
    kind: str | None = None,
    errors: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
    extra: dict[str, Any] | None = None,
) -> Response:
    body: dict[str, Any] = {
        "type": PROBLEM_BASE + kind if kind else "about:blank",
        "title": title,
        "status": status,
        "detail": detail,
    }
    if errors:
        body["errors"] = errors
    if extra:
        body.update(extra)
    response = current_app.response_class(
        json.dumps(body), status=status, mimetype=PROBLEM_MIMETYPE
    )
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def flatten_validation_messages(messages: Any, *, by_location: bool = True) -> dict[str, list[str]]:
    """Nested marshmallow messages as one level keyed by field path (`questions[0].choices`).

    webargs nests them under the request location first ({"json": {...}}); `by_location`
    drops that level.
    """
    flat: dict[str, list[str]] = {}

    def walk(node: Any, path: str) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if isinstance(key, int) or (isinstance(key, str) and key.isdigit()):
                    child = f"{path}[{key}]"
                elif key == "_schema":
                    child = path or "_schema"
                else:
                    child = f"{path}.{key}" if path else str(key)
                walk(value, child)
        elif isinstance(node, list) and all(isinstance(item, str) for item in node):
            flat.setdefault(path or "_schema", []).extend(node)
        elif isinstance(node, list):
            for index, value in enumerate(node):
                walk(value, f"{path}[{index}]")
        else:
            flat.setdefault(path or "_schema", []).append(str(node))

    if by_location and isinstance(messages, dict):
        for _location, fields in messages.items():
            walk(fields, "")
    else:
        walk(messages, "")
    return flat


def describe_errors(errors: dict[str, list[str]]) -> str:
    """Field-path errors as one readable line: `client_id: Not a valid UUID.; answers: ...`."""
    return "; ".join(f"{path}: {' '.join(messages)}" for path, messages in errors.items())


def handle_http_exception(error: HTTPException) -> Response:
    """Werkzeug and webargs errors as problem+json."""
    status = error.code or 500
    data = getattr(error, "data", None) or {}
    headers = dict(data.get("headers") or {})
    errors = None
    messages = data.get("errors") or data.get("messages")
    if messages:
        errors = flatten_validation_messages(messages)
    if status == 422:
        detail = "The request has invalid fields; see errors."
    elif status == 400 and messages:
        detail = "The request body is not valid JSON."
    else:
        detail = error.description or error.name
    if status == 429:
        retry_after = getattr(error, "retry_after", None)
        if retry_after is not None:
            headers["Retry-After"] = str(retry_after)
    if error.response is not None:
        for name in ("Retry-After", "Allow"):
            if name in error.response.headers:
                headers[name] = error.response.headers[name]
    if status == 405:
        allowed = getattr(error, "valid_methods", None)
        if allowed:
            headers["Allow"] = ", ".join(allowed)
    # The same status gets the same `type` and `title` whether the framework or a service
    # answered it (a client keys on `type`: a 422 is always "validation-failed").
    known = _APP_ERRORS_BY_STATUS.get(status)
    kind = known.kind if known else error.name.lower().replace(" ", "-")
    title = known.title if known else error.name
    return problem(status, title, detail, kind=kind, errors=errors, headers=headers)


def handle_app_error(error: AppError) -> Response:
    return problem(
        error.status,
        error.title,
        error.detail,
        kind=error.kind,
        errors=error.errors,
        headers=error.headers,
        extra=error.extra,
    )


def handle_unexpected(error: Exception) -> Response:
    if isinstance(error, HTTPException):
        return handle_http_exception(error)
    log.exception("unhandled error", exc_info=error)
    return problem(
        500,
        "Internal server error",
        "Something went wrong on our side. The request can be retried.",
        kind="internal",
    )


def handle_integrity_error(error: IntegrityError) -> Response:
    """The last resort for a constraint the database enforced and no check before it caught.

    Services check references and uniqueness themselves and answer 404/409/422 with the
    field; what reaches here is two requests racing (a row deleted, or the same name
    created, between the check and the write), for which 409 is the honest answer: the
    request conflicted with the data as it now is, and may succeed once reloaded. Logged
    with its trace, because a check that should have caught it may be missing.
    """
    log.error("integrity error reached the handler", exc_info=error)
    return problem(
        409,
        Conflict.title,
        "The change conflicts with the data as it is now (it may have just changed). "
        "Reload and try again.",
        kind=Conflict.kind,
    )


def register_error_handlers(app: Flask) -> None:
    app.register_error_handler(AppError, handle_app_error)
    app.register_error_handler(IntegrityError, handle_integrity_error)
    app.register_error_handler(HTTPException, handle_http_exception)
    app.register_error_handler(Exception, handle_unexpected)
