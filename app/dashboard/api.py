"""The dashboard's adapter to the JSON API: each page asks the API in-process, as the phone
app would over HTTP, with the manager's access token from their cookie.

The contract (API.md) is what the dashboard is built against, not another domain's service
functions; the token never reaches the browser's JavaScript, and every rule of the API
(roles, departments one manages, login limits, audit of exports) applies unchanged.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import orjson
from flask import current_app, request
from werkzeug.test import Client
from werkzeug.wrappers import Response


@dataclass(frozen=True)
class Answer:
    status: int
    body: bytes
    headers: Mapping[str, str]

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    def json(self) -> Any:
        return orjson.loads(self.body) if self.body else None


def call(
    method: str,
    path: str,
    *,
    token: str | None = None,
    json: Any = None,
    query: Mapping[str, Any] | None = None,
    accept: str = "application/json",
) -> Answer:
    """`method path` of the API (`/api/v1/...`) for the current browser request's user."""
    headers = {"Accept": accept}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    if request.headers.get("Accept-Language"):
        headers["Accept-Language"] = request.headers["Accept-Language"]
    client = Client(current_app, Response)
    answer = client.open(
        path,
        method=method,
        headers=headers,
        json=json,
        query_string={k: v for k, v in (query or {}).items() if v not in (None, "")},
        # The API's per-address limits (logins) must see the manager's address, not ours.
        environ_base={"REMOTE_ADDR": request.remote_addr or "127.0.0.1"},
    )
    return Answer(answer.status_code, answer.get_data(), dict(answer.headers))
