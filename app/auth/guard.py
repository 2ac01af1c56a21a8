"""Who is calling: the bearer token check every protected view declares."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar, cast

from flask import g
from flask_smorest import Blueprint

from app import db
from app.auth.bearer import bearer_claims, bearer_token
from app.auth.service import authenticated_user
from app.errors import Forbidden, Unauthorized
from app.orgs.models import User

F = TypeVar("F", bound=Callable[..., Any])

BEARER = {"WWW-Authenticate": 'Bearer realm="nanolearn"'}


def current_user() -> User:
    user: User = g.user
    return user


def _authenticate() -> User:
    if bearer_token() is None:
        raise Unauthorized("A bearer access token is required.", headers=BEARER)
    claims = bearer_claims()
    if claims is None:
        raise Unauthorized("The access token is invalid or expired.", headers=BEARER)
    user = authenticated_user(db.session(), claims)
    if user is None:
        raise Unauthorized("The login has ended or the account is deactivated.", headers=BEARER)
    return user


def authenticated(blp: Blueprint, *roles: str) -> Callable[[F], F]:
    """Require a valid access token and, if given, one of `roles`; documents 401/403.

    Put it above the flask-smorest decorators so the token is checked before the body.
    """

    def decorator(view: F) -> F:
        @wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            user = _authenticate()
            if roles and not user.has_role(*roles):
                raise Forbidden(f"This needs one of the roles: {', '.join(roles)}.")
            g.user = user
            return view(*args, **kwargs)

        wrapped = blp.doc(security=[{"bearerAuth": []}])(wrapper)
        wrapped = blp.alt_response(401, response="UNAUTHORIZED")(wrapped)
        if roles:
            wrapped = blp.alt_response(403, response="FORBIDDEN")(wrapped)
        return cast(F, wrapped)

    return decorator
