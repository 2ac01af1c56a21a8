"""Response bodies kept per process and served again while what they were rendered from is
unchanged (`sources`, compared on every read), each gzipped once: for reads whose facts come
from the caches, rendering, dumping and compressing cost more than finding the facts."""

from __future__ import annotations

import gzip
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Any

from flask import Response, current_app, request


@dataclass(frozen=True)
class _Rendered:
    sources: Any
    body: bytes
    gzip_body: bytes


class RenderedBodies:
    def __init__(self, max_entries: int = 4096) -> None:
        self.max_entries = max_entries
        self._bodies: dict[Hashable, _Rendered] = {}

    def response(self, key: Hashable, sources: Any, render: Callable[[], Any]) -> Response:
        """The JSON of `render()` for `key`, rendered again only when `sources` differ from
        what the kept body was rendered from."""
        rendered = self._bodies.get(key)
        if rendered is None or rendered.sources != sources:
            body = current_app.json.dumps(render()).encode()
            rendered = _Rendered(sources, body, gzip.compress(body))
            if len(self._bodies) >= self.max_entries:
                self._bodies.clear()  # the callers of the last few minutes render again
            self._bodies[key] = rendered
        if accepts_gzip():  # flask-compress leaves a response with Content-Encoding alone
            response = current_app.response_class(rendered.gzip_body, mimetype="application/json")
            response.headers["Content-Encoding"] = "gzip"
            return response
        return current_app.response_class(rendered.body, mimetype="application/json")


# Accept-Encoding header -> whether it accepts gzip. Clients send a handful of distinct
# headers ("gzip, deflate, br"...), and parsing one cost more than the rest of a kept body's
# response.
_gzip_accepted: dict[str, bool] = {}


def accepts_gzip() -> bool:
    """Whether the request's client takes a gzipped body (for bodies compressed ahead)."""
    header = request.environ.get("HTTP_ACCEPT_ENCODING", "")
    accepted = _gzip_accepted.get(header)
    if accepted is None:
        accepted = bool(request.accept_encodings["gzip"])
        if len(_gzip_accepted) < 256:
            _gzip_accepted[header] = accepted
    return accepted
