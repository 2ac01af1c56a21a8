"""Who is calling: the bearer token check every protected view declares."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar, cast

from flask import g
from flask_smorest import Blueprint

from app import db
from app.auth.bearer import bearer_claims, bearer_token
from app.auth.principal import Principal, principal_for
from app.errors import Forbidden, Unauthorized
from app.orgs.models import User

F = TypeVar("F", bound=Callable[..., Any])

BEARER = {"WWW-Authenticate": 'Bearer realm="nanolearn"'}


def current_principal() -> Principal:
    """The caller's facts (cached; no query): enough for views that only read."""
    principal: Principal = g.principal
    return principal


def current_user() -> User:
    """The caller's row, loaded on first use in a request: for views that change the user or
    pass it to services that do."""
    user: User | None = g.get("user")
    if user is None:
        user = db.session().get(User, current_principal().id)
        if user is None:  # deleted since the token was checked
            raise Unauthorized("The account no longer exists.", headers=BEARER)
        g.user = user
    return user


def _authenticate() -> Principal:
    if bearer_token() is None:
        raise Unauthorized("A bearer access token is required.", headers=BEARER)
    claims = bearer_claims()
    if claims is None:
        raise Unauthorized("The access token is invalid or expired.", headers=BEARER)
    principal = principal_for(db.session(), claims)
    if principal is None:
        raise Unauthorized("The login has ended or the account is deactivated.", headers=BEARER)
    return principal


def authenticated(blp: Blueprint, *roles: str) -> Callable[[F], F]:
    """Require a valid access token and, if given, one of `roles`; documents 401/403.

    Put it above the flask-smorest decorators so the token is checked before the body.
    """

    def decorator(view: F) -> F:
        @wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            principal = _authenticate()
            if roles and not principal.has_role(*roles):
                raise Forbidden(f"This needs one of the roles: {', '.join(roles)}.")
            g.principal = principal
            g.pop("user", None)
            return view(*args, **kwargs)

        wrapped = blp.doc(security=[{"bearerAuth": []}])(wrapper)
        wrapped = blp.alt_response(401, response="UNAUTHORIZED")(wrapped)
        if roles:
            wrapped = blp.alt_response(403, response="FORBIDDEN")(wrapped)
        return cast(F, wrapped)

    return decorator
