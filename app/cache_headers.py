"""Cache headers of authenticated responses, set in one place.

What a request with a bearer token gets back is that caller's own (their progress, their
language, their organisation): no shared cache may keep it, and a private one must tell
apart the callers, languages and encodings it was given for.
"""

from __future__ import annotations

from flask import Flask, Response, request

# Everything an authenticated body may depend on besides the URL.
VARY = ("Authorization", "Accept-Language", "Accept-Encoding")
# Stored by the caller's own cache, but asked again (ETag reads answer 304) before reuse.
DEFAULT_CACHE_CONTROL = "private, no-cache"


def init_app(app: Flask) -> None:
    app.after_request(private_to_the_caller)


def private_to_the_caller(response: Response) -> Response:
    """`Cache-Control: private` (unless the view chose `no-store`) and `Vary` on the caller,
    their language and the encoding, for every response to a request with credentials."""
    if "HTTP_AUTHORIZATION" not in request.environ:
        return response
    headers = response.headers
    cache_control = headers.get("Cache-Control")
    if not cache_control:
        headers["Cache-Control"] = DEFAULT_CACHE_CONTROL
    elif "private" not in cache_control and "no-store" not in cache_control:
        kept = [d.strip() for d in cache_control.split(",") if d.strip().lower() != "public"]
        headers["Cache-Control"] = ", ".join(["private", *kept])
    vary = headers.get("Vary")
    if not vary:
        headers["Vary"] = ", ".join(VARY)
    else:
        present = {token.strip().lower() for token in vary.split(",")}
        missing = [token for token in VARY if token.lower() not in present]
        if missing:
            headers["Vary"] = ", ".join([vary, *missing])
    return response
