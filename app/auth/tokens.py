"""Access tokens (JWT) and refresh tokens (opaque, stored hashed). Pure: `now` is passed in."""

from __future__ import annotations

import base64
import functools
import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

import jwt

ALGORITHM = "HS256"
ISSUER = "nanolearn"


@dataclass(frozen=True)
class AccessClaims:
    user_id: str
    org_id: str
    session_id: str


def encode_access_token(
    claims: AccessClaims, *, secret: str, now: datetime, lifetime: timedelta
) -> str:
    payload = {
        "sub": claims.user_id,
        "org": claims.org_id,
        "sid": claims.session_id,
        "iss": ISSUER,
        "typ": "access",
        "iat": int(now.timestamp()),
        "exp": int((now + lifetime).timestamp()),
    }
    return jwt.encode(payload, secret, algorithm=ALGORITHM)


@functools.lru_cache(maxsize=4)
def _verification_key(secret: str) -> jwt.PyJWK:
    """The secret as a ready HMAC key: given a plain string, PyJWT checks on every decode
    that it is not a PEM, SSH or DER public key (an attempted DER parse each time)."""
    encoded = base64.urlsafe_b64encode(secret.encode()).rstrip(b"=").decode()
    return jwt.PyJWK({"kty": "oct", "k": encoded, "alg": ALGORITHM})


def decode_access_token(token: str, *, secret: str) -> AccessClaims | None:
    """The claims of a valid, unexpired access token; None for anything else."""
    try:
        payload = jwt.decode(
            token,
            _verification_key(secret),
            algorithms=[ALGORITHM],
            issuer=ISSUER,
            options={"require": ["sub", "org", "sid", "exp", "iat"]},
        )
    except jwt.PyJWTError:
        return None
    if payload.get("typ") != "access":
        return None
    return AccessClaims(user_id=payload["sub"], org_id=payload["org"], session_id=payload["sid"])


def new_refresh_token() -> str:
    return secrets.token_urlsafe(32)


def hash_refresh_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()
