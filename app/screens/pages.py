"""`/screens/{token}`: the store screen a TV shows, and the live data it asks for.

The token in the path is the screen's only credential: it opens this page and its live data
(`/screens/{token}/live`), nothing else; the API's bearer check never looks at it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from flask import Blueprint, Response, render_template

from app import clock, db
from app.errors import NotFound
from app.etags import matching_etag
from app.screens import rules, service
from app.screens.texts import TEXTS
from app.web import LANGUAGES, secure_page_headers

bp = Blueprint(
    "screen_pages",
    __name__,
    template_folder="templates",
    static_folder="static",
    static_url_path="/static/screens",
)
bp.after_request(secure_page_headers)


@bp.get("/screens/<token>")
def page(token: str) -> Response | tuple[str, int]:
    """The page the TV opens once and keeps open; it updates itself (`screen.js`)."""
    try:
        screen = service.screen_for_token(db.session(), token=token)
    except NotFound:
        # Whose screen it was is unknown (or gone): say it in both languages.
        messages = [TEXTS[lang]["stopped"] for lang in LANGUAGES]
        return render_template("screens/stopped.html", messages=messages), 404
    now = clock.now()
    data = service.screen_page(db.session(), screen=screen, now=now)
    tz = screen.organization.timezone
    response = Response(
        render_template(
            "screens/screen.html",
            data=data,
            texts=TEXTS[screen.language],
            lang=screen.language,
            timezone=tz,
            changed=_local_time(data["changed_at"], tz),
            poll_seconds=rules.POLL_SECONDS,
            token=token,
        )
    )
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/screens/<token>/live")
def live(token: str) -> Response:
    """The screen's data as JSON, with an ETag: `If-None-Match` with the current one is a 304
    (the TV's usual answer: one Redis command, no query)."""
    screen = service.screen_for_token(db.session(), token=token)
    current = service.live_screen(db.session(), screen=screen, now=clock.now())
    headers: dict[str, Any] = {"ETag": current.etag, "Cache-Control": "no-cache, private"}
    if matching_etag(current.etag.strip('"')):
        return Response(status=304, headers=headers)
    return Response(current.body, mimetype="application/json", headers=headers)


def _local_time(iso: str, timezone: str) -> str:
    return datetime.fromisoformat(iso).astimezone(ZoneInfo(timezone)).strftime("%H:%M")
