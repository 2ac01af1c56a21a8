"""`/screens/{token}`: the store screen a TV shows, and the live data it asks for.

The token in the path is the screen's only credential: it opens this page and its live data
(`/screens/{token}/live`), nothing else; the API's bearer check never looks at it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from flask import Blueprint, Response, render_template, request

from app import clock, db, metrics
from app.errors import NotFound, ServiceUnavailable
from app.etags import matching_etag
from app.screens import rules, service, streams
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
            heartbeat_seconds=streams.watcher().heartbeat,
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


@bp.get("/screens/<token>/events")
def events(token: str) -> Response:
    """The screen as Server-Sent Events: the screen first (`id:` its ETag; not sent again to
    a browser whose Last-Event-ID is that ETag), then an event whenever it changes, a `ping`
    when quiet, `stopped` when the link is revoked; the stream ends after a while and the page
    opens a new one. Only a threaded server holds streams (a gunicorn `gthread` process of its
    own, or `make run`); elsewhere, and beyond the process's cap, a 503: the page polls
    `/live` meanwhile."""
    screen = service.screen_for_token(db.session(), token=token)
    if not request.environ.get("wsgi.multithread"):
        # A sync worker would be held for the stream's whole life (and killed by its timeout).
        metrics.SCREEN_STREAMS_REFUSED.inc()
        raise ServiceUnavailable(
            "This server does not hold screen streams; ask /live.",
            headers={"Retry-After": str(rules.STREAM_REFUSED_RETRY_AFTER_SECONDS)},
        )
    current = service.live_screen(db.session(), screen=screen, now=clock.now())
    last = request.headers.get("Last-Event-ID") or request.args.get("last_event_id")
    watcher = streams.watcher()
    # The connection to the TV, to notice it gone (gunicorn's and the development server's).
    peer = request.environ.get("gunicorn.socket") or request.environ.get("werkzeug.socket")
    stream = watcher.open(screen, rules.hash_token(token), current, peer)
    first = rules.retry_frame(rules.STREAM_RETRY_MS)
    if rules.send_first_screen(last, current.etag):
        first += rules.event_frame(current.body, event="screen", event_id=current.etag)
    # The body is sent after the request's teardown, which gives the session and its
    # connection back (no `stream_with_context`): the stream itself touches no database.
    response = Response(watcher.events(stream, first), mimetype="text/event-stream")
    response.headers["Cache-Control"] = "no-cache, private"
    response.headers["X-Accel-Buffering"] = "no"  # nginx: pass each event on at once
    return response


def _local_time(iso: str, timezone: str) -> str:
    return datetime.fromisoformat(iso).astimezone(ZoneInfo(timezone)).strftime("%H:%M")
