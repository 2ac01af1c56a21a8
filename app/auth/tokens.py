"""Access tokens (JWT) and refresh tokens (opaque, stored hashed). Pure: `now` is passed in,
except that a verified access token is remembered until it expires."""

from __future__ import annotations

import base64
import functools
import hashlib
import secrets
import time
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


# Tokens verified lately, with their expiry: a phone sends the same token with every request
# for its lifetime (15 minutes), and checking its signature again each time cost more than
# the rest of the token check. Keyed by secret and token, so a new secret verifies afresh.
_verified: dict[tuple[str, str], tuple[AccessClaims, int]] = {}
VERIFIED_TOKENS_KEPT = 20_000


def decode_access_token(token: str, *, secret: str) -> AccessClaims | None:
    """The claims of a valid, unexpired access token; None for anything else."""
    known = _verified.get((secret, token))
    if known is not None:
        claims, expires = known
        return claims if time.time() < expires else None
    claims_and_expiry = _verify(token, secret)
    if claims_and_expiry is None:
        return None
    if len(_verified) >= VERIFIED_TOKENS_KEPT:
        _verified.clear()  # a few minutes of active phones; they verify again once
    _verified[(secret, token)] = claims_and_expiry
    return claims_and_expiry[0]


def _verify(token: str, secret: str) -> tuple[AccessClaims, int] | None:
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
    claims = AccessClaims(user_id=payload["sub"], org_id=payload["org"], session_id=payload["sid"])
    return claims, int(payload["exp"])


def new_refresh_token() -> str:
    return secrets.token_urlsafe(32)


def hash_refresh_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()
