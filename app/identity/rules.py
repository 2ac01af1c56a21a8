"""Pure rules of identity: where a sign-in may send the browser, usernames from claims."""

from __future__ import annotations

import re
from collections.abc import Iterable
from urllib.parse import urlsplit

USERNAME = re.compile(r"^[A-Za-z0-9._@+-]{1,150}$")


def redirect_allowed(uri: str, *, own_origin: str, allowed_origins: Iterable[str]) -> bool:
    """Whether a sign-in may end at `uri`: a path on this server, or a page of this server's
    origin or of a configured one. Anything else would hand a sign-in code to a stranger."""
    if uri.startswith("/"):
        # "//host" and "/\\host" are other hosts to a browser.
        return not uri.startswith(("//", "/\\")) and "\\" not in uri
    parts = urlsplit(uri)
    if parts.scheme not in ("http", "https") or not parts.netloc or "\\" in uri:
        return False
    origin = f"{parts.scheme}://{parts.netloc}".lower()
    allowed = {o.strip().rstrip("/").lower() for o in allowed_origins if o.strip()}
    return origin == own_origin.rstrip("/").lower() or origin in allowed


def username_from_claims(claims: dict[str, object], claim: str) -> str | None:
    """The username an ID token names in `claim`, if it is one this app can hold."""
    value = claims.get(claim)
    if not isinstance(value, str) or not USERNAME.match(value):
        return None
    return value
