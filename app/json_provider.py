"""JSON bodies with orjson: Flask's provider encodes with the standard library, which cost
a paths or board response more CPU than finding its data. Same output as Flask's, except
that text is written as UTF-8 rather than \\u-escaped and keys keep their order.

Reading is the one JSON parsing path of every request body (`request.get_json`, which
webargs' parser and the editor's views use too), with the same limits for all: valid UTF-8
without lone surrogates, numbers that fit a 64-bit integer or a finite double, and nesting
at most `MAX_DEPTH` deep.
"""

from __future__ import annotations

from typing import Any, cast

import orjson
from flask import Flask
from flask.json.provider import DefaultJSONProvider
from werkzeug.sansio.response import Response

# Dates, datetimes and dataclasses go to Flask's `default`, as before: orjson's own
# spelling of them differs from Flask's.
_OPTIONS = orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS

# No body of this API nests more than about ten levels (a package's choice translations);
# the walks over a parsed body (NUL checks, fingerprints, marshmallow) recurse, and
# orjson's own bound (1 024) lies beyond Python's recursion limit.
MAX_DEPTH = 64


class JSONTooDeep(ValueError):
    """A well-formed document nested deeper than this API reads."""


def nesting_within(value: Any, limit: int = MAX_DEPTH) -> bool:
    """Whether no array or object in `value` lies deeper than `limit` (walked without
    recursion, so any depth is safe to ask about)."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, dict):
            children: Any = node.values()
        elif isinstance(node, list):
            children = node
        else:
            continue
        if depth > limit:
            return False
        stack.extend((child, depth + 1) for child in children if isinstance(child, dict | list))
    return True


def _unstorable(text: str) -> bool:
    # PostgreSQL text cannot hold NUL; a lone surrogate cannot even be encoded to send it.
    if "\x00" in text:
        return True
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def unstorable_text_paths(value: Any, path: str = "") -> list[str]:
    """Where in a parsed document (JSON or YAML) a string or key holds what the database
    cannot store: a NUL character or a lone surrogate. Paths as `questions[0].prompt`."""
    if isinstance(value, str):
        return [path or "_schema"] if _unstorable(value) else []
    found: list[str] = []
    if isinstance(value, dict):
        for key, item in value.items():
            child = f"{path}.{key}" if path else str(key)
            bad_key = isinstance(key, str) and _unstorable(key)
            found += [child] if bad_key else unstorable_text_paths(item, child)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found += unstorable_text_paths(item, f"{path}[{index}]")
    return found


def parse_json(data: str | bytes) -> Any:
    """A JSON document under the limits above; ValueError (a JSONDecodeError) otherwise."""
    value = orjson.loads(data)  # refuses lone surrogates, invalid UTF-8, NaN, huge numbers
    if isinstance(value, dict | list) and not nesting_within(value):
        raise JSONTooDeep(f"nested deeper than {MAX_DEPTH} levels")
    return value


class OrjsonProvider(DefaultJSONProvider):
    def _encode(self, obj: Any) -> bytes:
        try:
            return orjson.dumps(obj, default=self.default, option=_OPTIONS)
        except orjson.JSONEncodeError:  # e.g. non-string keys, integers beyond 64 bits
            return super().dumps(obj, separators=(",", ":"), sort_keys=False).encode()

    def dumps(self, obj: Any, **kwargs: Any) -> str:
        if kwargs:  # options only the standard library knows (e.g. indent)
            return super().dumps(obj, **kwargs)
        return self._encode(obj).decode()

    def loads(self, s: str | bytes, **kwargs: Any) -> Any:
        if kwargs:
            return super().loads(s, **kwargs)
        return parse_json(s)

    def response(self, *args: Any, **kwargs: Any) -> Response:
        if (self.compact is None and self._app.debug) or self.compact is False:
            return super().response(*args, **kwargs)  # indented for reading
        body = self._encode(self._prepare_response_obj(args, kwargs)) + b"\n"
        return cast(Flask, self._app).response_class(body, mimetype=self.mimetype)
