"""Badges as Open Badges 3.0 credentials (W3C Verifiable Credentials 2.0), signed as VC-JWTs
with the organisation's own keys; the issuer profile, its public keys and its revocations.

A credential is made again on each request from the earned badge (nothing but the badge is
stored): its id, dates and subject never change, so every copy says the same thing.
"""

from __future__ import annotations

import base64
import calendar
import hashlib
import hmac
import uuid
from datetime import datetime
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from flask import current_app
from jwt.algorithms import ECAlgorithm, RSAAlgorithm
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.db import new_id
from app.errors import AppError, NotFound, Unprocessable
from app.gamification import badges
from app.gamification.models import EarnedBadge
from app.interop import encryption
from app.interop.models import RevokedCredential, SigningKey
from app.orgs.models import Organization, User

VC_CONTEXT = "https://www.w3.org/ns/credentials/v2"
OB_CONTEXT = "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json"
OB_SCHEMA = (
    "https://purl.imsglobal.org/spec/ob/v3p0/schema/json/ob_v3p0_achievementcredential_schema.json"
)
ALGORITHMS = ("ES256", "RS256")
SUBJECT_NAMESPACE = uuid.UUID("a4f3f8f2-1c55-5d6e-8a0b-3e0f2b9c7d11")


class Gone(AppError):
    status, title, kind = 410, "Gone", "gone"


# --- URLs ---------------------------------------------------------------------------------------


def _api(org: Organization) -> str:
    return f"{current_app.config['PUBLIC_BASE_URL']}/api/v1/orgs/{org.slug}"


def issuer_id(org: Organization) -> str:
    return f"{_api(org)}/issuer"


def jwks_url(org: Organization) -> str:
    return f"{_api(org)}/jwks.json"


def revocations_url(org: Organization) -> str:
    return f"{_api(org)}/revocations"


def credential_id(org: Organization, earned: EarnedBadge) -> str:
    return f"{_api(org)}/credentials/{earned.id}"


def achievement_id(org: Organization, code: str) -> str:
    return f"{_api(org)}/achievements/{code}"


# --- keys -------------------------------------------------------------------------------------


def _new_key(org_id: str, algorithm: str, now: datetime) -> SigningKey:
    private: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey
    if algorithm == "ES256":
        private = ec.generate_private_key(ec.SECP256R1())
        public_jwk: dict[str, Any] = ECAlgorithm.to_jwk(private.public_key(), as_dict=True)
    else:
        private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        public_jwk = RSAAlgorithm.to_jwk(private.public_key(), as_dict=True)
    kid = new_id()
    pem = private.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    return SigningKey(
        kid=kid,
        org_id=org_id,
        algorithm=algorithm,
        public_jwk={**public_jwk, "kid": kid, "alg": algorithm, "use": "sig"},
        private_key_encrypted=encryption.encrypt(pem),
        created_at=now,
    )


def _algorithm() -> str:
    algorithm = current_app.config.get("BADGE_KEY_ALGORITHM") or "ES256"
    if algorithm not in ALGORITHMS:
        raise RuntimeError(f"BADGE_KEY_ALGORITHM must be one of {', '.join(ALGORITHMS)}")
    return str(algorithm)


def current_key(session: Session, *, org_id: str, now: datetime) -> SigningKey:
    """The organisation's signing key, made on first use."""
    key = session.scalar(
        select(SigningKey)
        .where(SigningKey.org_id == org_id, SigningKey.retired_at.is_(None))
        .order_by(SigningKey.created_at.desc(), SigningKey.kid.desc())
        .limit(1)
    )
    if key is None:
        key = _new_key(org_id, _algorithm(), now)
        session.add(key)
        session.flush()
    return key


def rotate_key(session: Session, *, org_id: str, now: datetime) -> SigningKey:
    """A new signing key; the old one is retired but stays published for verification."""
    for key in session.scalars(
        select(SigningKey).where(SigningKey.org_id == org_id, SigningKey.retired_at.is_(None))
    ):
        key.retired_at = now
    key = _new_key(org_id, _algorithm(), now)
    session.add(key)
    session.flush()
    return key


def jwks(session: Session, *, slug: str) -> dict[str, Any]:
    """Every public key of the organisation, retired ones too (what they signed stays valid)."""
    org = _org(session, slug)
    keys = session.scalars(
        select(SigningKey).where(SigningKey.org_id == org.id).order_by(SigningKey.created_at)
    )
    return {"keys": [key.public_jwk for key in keys]}


# --- the issuer ---------------------------------------------------------------------------------


def _org(session: Session, slug: str) -> Organization:
    org = session.scalar(select(Organization).where(Organization.slug == slug))
    if org is None:
        raise NotFound("No such organisation.")
    return org


def _issuer(org: Organization) -> dict[str, Any]:
    return {
        "id": issuer_id(org),
        "type": ["Profile"],
        "name": org.name,
        "url": f"{current_app.config['PUBLIC_BASE_URL']}/orgs/{org.slug}",
    }


def issuer_profile(session: Session, *, slug: str) -> dict[str, Any]:
    """The organisation's Open Badges issuer profile (public)."""
    org = _org(session, slug)
    return {"@context": [VC_CONTEXT, OB_CONTEXT], **_issuer(org)}


def revocation_list(session: Session, *, slug: str) -> dict[str, Any]:
    """The organisation's revoked credentials (1EdTech Revocation List status method)."""
    org = _org(session, slug)
    rows = session.execute(
        select(RevokedCredential, EarnedBadge)
        .join(EarnedBadge, EarnedBadge.id == RevokedCredential.earned_badge_id)
        .where(RevokedCredential.org_id == org.id)
        .order_by(RevokedCredential.revoked_at)
    ).all()
    return {
        "id": revocations_url(org),
        "issuer": issuer_id(org),
        "revokedCredentials": [
            {
                "id": credential_id(org, earned),
                "revoked": True,
                **({"revocationReason": revoked.reason} if revoked.reason else {}),
            }
            for revoked, earned in rows
        ],
    }


# --- credentials --------------------------------------------------------------------------------


def _salt(earned: EarnedBadge) -> str:
    secret = current_app.config["SECRET_KEY"].encode()
    return hmac.new(secret, f"badge-salt:{earned.id}".encode(), hashlib.sha256).hexdigest()[:32]


def _identity_hash(user_id: str, salt: str) -> str:
    return "sha256$" + hashlib.sha256((user_id + salt).encode()).hexdigest()


def _image(title: str) -> dict[str, Any]:
    # No stored artwork: a small SVG medal with the title, inline so it never goes missing.
    safe = title.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    svg = (
        '<svg xmlns="http://www.w3.org/2000/svg" width="256" height="256" viewBox="0 0 256 256">'
        '<circle cx="128" cy="128" r="120" fill="#f4b400" stroke="#a87900" stroke-width="8"/>'
        f'<text x="128" y="136" font-family="sans-serif" font-size="18" text-anchor="middle">{safe}'
        "</text></svg>"
    )
    encoded = base64.b64encode(svg.encode()).decode()
    return {"id": f"data:image/svg+xml;base64,{encoded}", "type": "Image", "caption": title}


def _earned(session: Session, user: User, code: str, period: str | None) -> EarnedBadge:
    if code not in badges.BY_CODE:
        raise NotFound("No such badge.")
    stmt = select(EarnedBadge).where(EarnedBadge.user_id == user.id, EarnedBadge.code == code)
    if period is not None:
        stmt = stmt.where(EarnedBadge.period == period)
    earned = session.scalar(stmt.order_by(EarnedBadge.earned_at.desc()).limit(1))
    if earned is None:
        raise NotFound("You have not earned this badge.")
    return earned


def build_credential(org: Organization, earned: EarnedBadge, *, locale: str) -> dict[str, Any]:
    """The OpenBadgeCredential of an earned badge (unsigned)."""
    badge = badges.BY_CODE[earned.code]
    title = badges.localized(badge.title, locale)
    description = badges.localized(badge.description, locale)
    salt = _salt(earned)
    identity = _identity_hash(earned.user_id, salt)
    subject_id = f"urn:uuid:{uuid.uuid5(SUBJECT_NAMESPACE, identity)}"
    credential: dict[str, Any] = {
        "@context": [VC_CONTEXT, OB_CONTEXT],
        "id": credential_id(org, earned),
        "type": ["VerifiableCredential", "OpenBadgeCredential"],
        "name": title,
        "issuer": _issuer(org),
        "validFrom": earned.earned_at.isoformat(timespec="seconds"),
        "credentialSubject": {
            "id": subject_id,
            "type": ["AchievementSubject"],
            "identifier": [
                {
                    "type": "IdentityObject",
                    "identityHash": identity,
                    "identityType": "systemId",
                    "hashed": True,
                    "salt": salt,
                }
            ],
            "achievement": {
                "id": achievement_id(org, earned.code),
                "type": ["Achievement"],
                "achievementType": "Badge",
                "name": title,
                "description": description,
                "criteria": {"narrative": description},
                "image": _image(title),
                "inLanguage": locale,
            },
        },
        "credentialStatus": {"id": revocations_url(org), "type": "1EdTechRevocationList"},
        "credentialSchema": [{"id": OB_SCHEMA, "type": "1EdTechJsonSchemaValidator2019"}],
    }
    valid_months = getattr(badge, "valid_months", None)
    if valid_months:
        # A badge that stands for a competence requirement expires with it.
        credential["validUntil"] = _add_months(earned.earned_at, valid_months).isoformat(
            timespec="seconds"
        )
    return credential


def _add_months(moment: datetime, months: int) -> datetime:
    month = moment.month - 1 + months
    year, month = moment.year + month // 12, month % 12 + 1
    day = min(moment.day, calendar.monthrange(year, month)[1])
    return moment.replace(year=year, month=month, day=day)


def sign(session: Session, org: Organization, credential: dict[str, Any], *, now: datetime) -> str:
    """The credential as a VC-JWT: the credential's properties with the JWT claims (`iss`,
    `sub`, `jti`, `nbf`, `exp` when it expires) and, for OB 3.0 / VC-JWT 1.1 verifiers,
    the credential again under `vc`."""
    key = current_key(session, org_id=org.id, now=now)
    private = serialization.load_pem_private_key(
        encryption.decrypt(key.private_key_encrypted).encode(), password=None
    )
    valid_from = datetime.fromisoformat(credential["validFrom"])
    claims: dict[str, Any] = {
        **credential,
        "iss": credential["issuer"]["id"],
        "sub": credential["credentialSubject"]["id"],
        "jti": credential["id"],
        "nbf": int(valid_from.timestamp()),
        "iat": int(valid_from.timestamp()),
        "vc": credential,
    }
    if "validUntil" in credential:
        claims["exp"] = int(datetime.fromisoformat(credential["validUntil"]).timestamp())
    return jwt.encode(
        claims,
        private,  # type: ignore[arg-type]
        algorithm=key.algorithm,
        headers={"kid": f"{jwks_url(org)}#{key.kid}", "typ": "vc+jwt", "cty": "vc"},
    )


def my_credential(
    session: Session, *, user: User, code: str, period: str | None, locale: str, now: datetime
) -> dict[str, Any]:
    """`{credential, jwt}` for a badge I earned; 410 once an admin revoked it."""
    earned = _earned(session, user, code, period)
    if session.get(RevokedCredential, earned.id) is not None:
        raise Gone("This badge was revoked by the organisation.")
    org = user.organization
    credential = build_credential(org, earned, locale=locale)
    return {"credential": credential, "jwt": sign(session, org, credential, now=now)}


def revoke(
    session: Session, *, org_id: str, earned_badge_id: str, reason: str | None, now: datetime
) -> dict[str, Any]:
    """Revoke a badge credential of the organisation (listed at once in its revocations)."""
    earned = session.get(EarnedBadge, earned_badge_id)
    if earned is None or earned.org_id != org_id:
        raise NotFound("No such earned badge.")
    if reason is not None and len(reason) > 500:
        raise Unprocessable("Too long.", errors={"reason": ["At most 500 characters."]})
    revoked = session.get(RevokedCredential, earned.id)
    if revoked is None:
        revoked = RevokedCredential(
            earned_badge_id=earned.id, org_id=org_id, reason=reason, revoked_at=now
        )
        session.add(revoked)
        session.flush()
    org = session.get(Organization, org_id)
    assert org is not None
    return {
        "credential_id": credential_id(org, earned),
        "revoked_at": revoked.revoked_at,
        "reason": revoked.reason,
    }


def rotate_secrets(session: Session) -> int:
    """Re-encrypt every stored secret with the newest `ENCRYPTION_KEYS` key."""
    from app.interop.models import XapiIntegration

    count = 0
    for key in session.scalars(select(SigningKey)):
        key.private_key_encrypted = encryption.rotate(key.private_key_encrypted)
        count += 1
    for integration in session.scalars(select(XapiIntegration)):
        integration.password_encrypted = encryption.rotate(integration.password_encrypted)
        count += 1
    session.flush()
    return count
