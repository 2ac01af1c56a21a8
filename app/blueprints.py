"""The Blueprint every route module uses: flask-smorest's, with a query-string parser that
remembers what each query string parsed to, and documentation decorators that add no call.

Reads such as the boards and the week's paths arrive all day with the same few query strings
(`?scope=department&window=week`), and loading one through its marshmallow schema costs more
than the rest of such a request's own work.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from typing import Any, TypeVar, cast

import flask_smorest
import marshmallow as ma
from webargs import core
from webargs.flaskparser import FlaskParser, is_json_request

# Values that a view cannot change in place: a remembered result is handed out as a copy of
# its dict, and these inside it are shared safely.
_IMMUTABLE = (str, int, float, bool, type(None), date, datetime, tuple, frozenset)

F = TypeVar("F", bound=Callable[..., Any])


class QueryRememberingParser(FlaskParser):
    """webargs' Flask parser; a query string seen before (for the same schema) returns what it
    parsed to then. Invalid ones are not remembered: they take the usual path to a 422.

    JSON bodies come from `request.get_json`, the app's one JSON path and its limits
    (webargs' own reads them with the standard library, which takes lone surrogates and
    fails with a 500 on deep nesting or a 5 000-digit number)."""

    max_entries = 2048

    def _raw_load_json(self, req: Any) -> Any:
        if not is_json_request(req) or not req.get_data(cache=True):
            return core.missing  # as webargs: an empty body is missing, not malformed
        return req.get_json()

    def __init__(self) -> None:
        super().__init__()
        self._parsed: dict[tuple[int, bytes], dict[str, Any]] = {}

    def parse(
        self, argmap: Any, req: Any = None, *, location: str | None = None, **kwargs: Any
    ) -> Any:
        if location != "query" or not isinstance(argmap, ma.Schema) or kwargs.get("validate"):
            return super().parse(argmap, req, location=location, **kwargs)
        request = req if req is not None else self.get_default_request()
        # The schema objects live as long as the routes that hold them, so their ids are stable.
        key = (id(argmap), request.query_string)
        known = self._parsed.get(key)
        if known is not None:
            return dict(known)
        parsed = super().parse(argmap, request, location=location, **kwargs)
        if isinstance(parsed, dict) and all(isinstance(v, _IMMUTABLE) for v in parsed.values()):
            if len(self._parsed) >= self.max_entries:
                self._parsed.clear()  # cursors make many one-off query strings; start over
            self._parsed[key] = dict(parsed)
        return parsed


class Blueprint(flask_smorest.Blueprint):
    ARGUMENTS_PARSER = QueryRememberingParser()

    # flask-smorest's `arguments`, `alt_response` and `doc` wrap the view in a function that
    # only carries the added documentation and calls the view through
    # `current_app.ensure_sync`. A view documents several statuses, so a request went through
    # several such calls (a twentieth of a board read's CPU). Here the view itself carries the
    # documentation instead.

    def arguments(
        self,
        schema: Any,
        *,
        location: str = "json",
        content_type: str | None = None,
        required: bool = True,
        description: str | None = None,
        example: Any = None,
        examples: Any = None,
        **kwargs: Any,
    ) -> Callable[[F], F]:
        """flask-smorest's: webargs parses into the view, which carries the documentation
        (flask-smorest's own call between the two only carried it)."""
        document = super().arguments(
            schema,
            location=location,
            content_type=content_type,
            required=required,
            description=description,
            example=example,
            examples=examples,
            **kwargs,
        )
        parse = self.ARGUMENTS_PARSER.use_args(schema, location=location, **kwargs)

        def decorator(view: F) -> F:
            view._apidoc = document(view)._apidoc  # type: ignore[attr-defined]
            return cast(F, parse(view))

        return decorator

    def alt_response(self, status_code: int | str, **kwargs: Any) -> Callable[[F], F]:
        return _documenting_in_place(super().alt_response(status_code, **kwargs))

    @staticmethod
    def doc(**kwargs: Any) -> Callable[[F], F]:
        return _documenting_in_place(flask_smorest.Blueprint.doc(**kwargs))


def _documenting_in_place(document: Callable[[F], F]) -> Callable[[F], F]:
    """Apply flask-smorest's documenting `document` to a view, keep the documentation it
    builds (a copy of the view's own, with the addition) and drop the wrapper it returns."""

    def decorator(view: F) -> F:
        view._apidoc = document(view)._apidoc  # type: ignore[attr-defined]
        return view

    return decorator
