"""What every server-rendered page (the store screen, the manager's dashboard) sends: a strict
Content-Security-Policy and the headers that keep the pages and their secrets to themselves."""

from __future__ import annotations

from flask import Response

# Scripts, styles and images only from our own files (no inline code, no CDN); requests only
# to ourselves; never framed; forms post only to ourselves.
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; font-src 'self'; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'none'"
)


def secure_page_headers(response: Response) -> Response:
    """The headers of a page or its data; a page's URL may hold a secret (a screen's link),
    so it is never sent on as a Referer. A 304 has no body for them to guard: it goes without
    (a TV's usual poll answer, a hundred a second from 500 TVs)."""
    if response.status_code == 304:
        return response
    headers = response.headers
    headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
    headers.setdefault("Referrer-Policy", "no-referrer")
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("X-Frame-Options", "DENY")
    headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
    headers.setdefault("Cross-Origin-Resource-Policy", "same-origin")
    return response


LANGUAGES = ("nb", "en")


def web_language(*preferred: str | None) -> str:
    """The first of `preferred` the pages have words for (`nn` and `no` read bokmål), else
    bokmål."""
    for tag in preferred:
        if not tag:
            continue
        base = tag.split("-")[0].split("_")[0].lower()
        base = "nb" if base in ("nb", "nn", "no") else base
        if base in LANGUAGES:
            return base
    return "nb"
