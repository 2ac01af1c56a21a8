"""How the dashboard keeps a manager logged in: the API's tokens in cookies that no script
can read (HttpOnly), that are sent only to the dashboard's own pages (Path, SameSite=Strict)
and only over HTTPS in production (Secure); and a CSRF token every form carries back."""

from __future__ import annotations

import hmac
import secrets
from urllib.parse import urlsplit

from flask import current_app, request
from werkzeug.wrappers import Response

from app.errors import Forbidden

ACCESS = "nl_dashboard_access"
REFRESH = "nl_dashboard_refresh"
CSRF = "nl_dashboard_csrf"
PATH = "/dashboard"
CSRF_FIELD = "csrf_token"


def _secure() -> bool:
    return bool(current_app.config.get("ENV_NAME") == "production")


def _set(response: Response, name: str, value: str, max_age: int | None) -> None:
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        path=PATH,
        secure=_secure(),
        httponly=True,
        samesite="Strict",
    )


def keep_login(response: Response, tokens: dict[str, object]) -> None:
    """Store the API's token pair from a login or refresh answer."""
    refresh_days = int(current_app.config.get("REFRESH_TOKEN_DAYS") or 30)
    _set(response, ACCESS, str(tokens["access_token"]), int(str(tokens.get("expires_in", 900))))
    _set(response, REFRESH, str(tokens["refresh_token"]), refresh_days * 24 * 3600)


def forget_login(response: Response) -> None:
    for name in (ACCESS, REFRESH):
        response.delete_cookie(name, path=PATH, secure=_secure(), httponly=True, samesite="Strict")


def access_token() -> str | None:
    return request.cookies.get(ACCESS) or None


def refresh_token() -> str | None:
    return request.cookies.get(REFRESH) or None


def csrf_token() -> str:
    """This browser's CSRF token (made on first use; `ensure_csrf` stores it)."""
    return request.cookies.get(CSRF) or _new_csrf()


def _new_csrf() -> str:
    from flask import g

    token: str | None = g.get("new_csrf")
    if token is None:
        token = g.new_csrf = secrets.token_urlsafe(32)
    return token


def ensure_csrf(response: Response) -> Response:
    """Store the CSRF token made while rendering this page (after-request hook)."""
    from flask import g

    made = g.get("new_csrf")
    if made and not request.cookies.get(CSRF):
        _set(response, CSRF, made, None)
    return response


def check_csrf() -> None:
    """Every change (a form POST) must carry this browser's CSRF token and, when the browser
    says where it comes from, come from this site."""
    origin = request.headers.get("Origin") or request.headers.get("Referer")
    if origin and origin != "null":
        parts = urlsplit(origin)
        if f"{parts.scheme}://{parts.netloc}" != request.host_url.rstrip("/"):
            raise Forbidden("This form was sent from another site.")
    expected = request.cookies.get(CSRF)
    sent = request.form.get(CSRF_FIELD, "")
    if not expected or not hmac.compare_digest(expected, sent):
        raise Forbidden("The form has expired. Reload the page and try again.")
