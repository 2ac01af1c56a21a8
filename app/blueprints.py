"""The Blueprint every route module uses: flask-smorest's, with a query-string parser that
remembers what each query string parsed to.

Reads such as the boards and the week's paths arrive all day with the same few query strings
(`?scope=department&window=week`), and loading one through its marshmallow schema costs more
than the rest of such a request's own work.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import flask_smorest
import marshmallow as ma
from webargs.flaskparser import FlaskParser

# Values that a view cannot change in place: a remembered result is handed out as a copy of
# its dict, and these inside it are shared safely.
_IMMUTABLE = (str, int, float, bool, type(None), date, datetime, tuple, frozenset)


class QueryRememberingParser(FlaskParser):
    """webargs' Flask parser; a query string seen before (for the same schema) returns what it
    parsed to then. Invalid ones are not remembered: they take the usual path to a 422."""

    max_entries = 2048

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
