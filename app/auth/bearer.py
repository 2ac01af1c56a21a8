"""The request's bearer token, decoded once per request (the rate limiter and the guard
both need it)."""

from __future__ import annotations

from flask import current_app, request

from app.auth.tokens import AccessClaims, decode_access_token

_UNSET = object()
_ENVIRON_KEY = "nanolearn.bearer_claims"


def bearer_token() -> str | None:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    token = token.strip()
    return token if scheme.lower() == "bearer" and token else None


def bearer_claims() -> AccessClaims | None:
    """The claims of a valid, unexpired bearer token, or None."""
    # Kept on the request itself, not on `g`: an app context can outlive one request.
    cached = request.environ.get(_ENVIRON_KEY, _UNSET)
    if cached is not _UNSET:
        return cached
    token = bearer_token()
    claims = decode_access_token(token, secret=current_app.config["SECRET_KEY"]) if token else None
    request.environ[_ENVIRON_KEY] = claims
    return claims
