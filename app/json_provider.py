"""JSON bodies with orjson: Flask's provider encodes with the standard library, which cost
a paths or board response more CPU than finding its data. Same output as Flask's, except
that text is written as UTF-8 rather than \\u-escaped and keys keep their order.
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
        return orjson.loads(s)

    def response(self, *args: Any, **kwargs: Any) -> Response:
        if (self.compact is None and self._app.debug) or self.compact is False:
            return super().response(*args, **kwargs)  # indented for reading
        body = self._encode(self._prepare_response_obj(args, kwargs)) + b"\n"
        return cast(Flask, self._app).response_class(body, mimetype=self.mimetype)
