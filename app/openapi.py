"""What every endpoint documents beyond its success: problem+json errors, bearer auth."""

from __future__ import annotations

import http
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import flask
import flask_swagger_ui
import marshmallow as ma
from apispec import BasePlugin
from flask_smorest import Blueprint
from flask_smorest.utils import prepare_response

from app.errors import PROBLEM_MIMETYPE

F = TypeVar("F", bound=Callable[..., Any])


class ProblemSchema(ma.Schema):
    """RFC 9457 problem details.

    A problem may carry extension members beside those listed (RFC 9457 section 3.2; e.g. the
    `warnings` of a refused package): documented as allowed, so a client that validates
    responses does not reject them.
    """

    class Meta:
        unknown = ma.INCLUDE

    type = ma.fields.String(metadata={"description": "URI naming the kind of problem"})
    title = ma.fields.String()
    status = ma.fields.Integer()
    detail = ma.fields.String()
    errors = ma.fields.Dict(
        keys=ma.fields.String(),
        values=ma.fields.List(ma.fields.String()),
        metadata={"description": "Validation messages keyed by field path or query parameter"},
    )
    existing_id = ma.fields.String(
        metadata={"description": "409 for a taken name: the id of what already has it"}
    )
    problems = ma.fields.List(
        ma.fields.Dict(),
        metadata={
            "description": "A refused import (roster, package): every problem as "
            "`{row|file, field, message}`, the same as `errors`"
        },
    )


class TaggedUnion(ma.fields.Dict):
    """An object of one of several kinds, told apart by one property (`type`).

    It loads as a plain object, so that a view can validate each item on its own (one bad
    offline event is rejected without refusing its batch), and is documented as what it is:
    `oneOf` the kinds' schemas with a `discriminator` (see `tagged_union2properties`).
    """

    def __init__(self, tag: str, kinds: dict[str, type[ma.Schema]], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.tag = tag
        self.kinds = kinds


def tagged_union2properties(converter: Any, field: Any, **_: Any) -> dict[str, Any]:
    """apispec attribute function: `oneOf` + `discriminator` for a TaggedUnion."""
    if not isinstance(field, TaggedUnion):
        return {}
    refs = {tag: converter.resolve_nested_schema(schema) for tag, schema in field.kinds.items()}
    return {
        "oneOf": list(refs.values()),
        "discriminator": {
            "propertyName": field.tag,
            "mapping": {tag: ref["$ref"] for tag, ref in refs.items() if "$ref" in ref},
        },
    }


def register_problem_responses(spec: Any) -> None:
    """Every status as a reusable problem+json response component (overrides smorest's)."""
    for status in http.HTTPStatus:
        response: dict[str, Any] = {"description": status.phrase}
        if status >= 400:
            response["schema"] = ProblemSchema
        prepare_response(response, spec, PROBLEM_MIMETYPE)
        spec.components.response(status.name, response, lazy=True)
    default = {"description": "Error", "schema": ProblemSchema}
    prepare_response(default, spec, PROBLEM_MIMETYPE)
    spec.components.response("DEFAULT_ERROR", default, lazy=True)


# Answered by the app itself rather than by a view, so no view documents them one by one:
# a body that is not JSON (400), too large (413) or of the wrong type (415), and the default
# rate limit every endpoint has (429); 422 for a bad or reused `Idempotency-Key`.
BODY_ERRORS = (400, 413, 415)
EVERY_ENDPOINT_ERRORS = (429,)


class CommonErrorsPlugin(BasePlugin):
    """Adds the errors every endpoint (or every endpoint with a body) can answer."""

    def operation_helper(
        self, path: str | None = None, operations: dict[str, Any] | None = None, **kwargs: Any
    ) -> None:
        for method, operation in (operations or {}).items():
            if method not in ("get", "post", "put", "patch", "delete"):
                continue
            responses = operation.setdefault("responses", {})
            codes = list(EVERY_ENDPOINT_ERRORS)
            if "requestBody" in operation:
                codes.extend(BODY_ERRORS)
            if any(
                isinstance(p, dict) and p.get("name") == "Idempotency-Key"
                for p in operation.get("parameters", [])
            ):
                codes.append(422)  # a bad key, or a key reused with another request
            for code in codes:
                if code not in responses and str(code) not in responses:
                    responses[str(code)] = http.HTTPStatus(code).name


def errors(blp: Blueprint, *codes: int) -> Callable[[F], F]:
    """Document the error statuses a view can answer with."""

    def decorator(view: F) -> F:
        for code in codes:
            view = blp.alt_response(code, response=http.HTTPStatus(code).name)(view)
        return view

    return decorator


# The Swagger UI distribution that `flask-swagger-ui` ships (its version is pinned in
# pyproject.toml), served under the docs page that flask-smorest renders.
swagger_ui_assets = flask.Blueprint(
    "swagger_ui_assets",
    __name__,
    static_folder=str(Path(flask_swagger_ui.__file__).parent / "dist"),
    static_url_path="/api/v1/docs/assets",
)
