"""Single sign-on with OpenID Connect: an organisation's provider settings, the phone app's
ID-token exchange and the dashboard's redirect flow."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from cryptography.fernet import MultiFernet
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.auth.service import IssuedTokens, TokenPolicy, start_login
from app.errors import AppError, NotFound, Unauthorized, Unprocessable
from app.identity import rules
from app.identity.models import OidcLoginState, OidcSettings, SignInCode
from app.identity.oidc import OidcClient, ProviderUnavailable, TokenRejected, transport_allowed
from app.orgs import service as orgs
from app.orgs.models import Organization, User
from app.orgs.service import UNUSABLE_PASSWORD

LOGIN_STATE_LIFETIME = timedelta(minutes=10)
SIGN_IN_CODE_LIFETIME = timedelta(seconds=60)
REFUSED = "Single sign-on refused: the identity token does not verify for this organization."


def _login_end(now: datetime, login_hours: int) -> datetime | None:
    """When a login started by single sign-on stops refreshing (`OIDC_LOGIN_HOURS`; 0: never)."""
    return now + timedelta(hours=login_hours) if login_hours > 0 else None


class ProviderDown(AppError):
    status, title, kind = 503, "Identity provider unavailable", "identity-provider-unavailable"


def _hash(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def get_settings(session: Session, *, org_id: str) -> OidcSettings:
    """The organisation's OpenID Connect settings, or 404 when none are set."""
    settings = session.get(OidcSettings, org_id)
    if settings is None:
        raise NotFound("No OpenID Connect provider is set for this organization.")
    return settings


def settings_view(settings: OidcSettings, org: Organization) -> dict[str, Any]:
    """The settings as an admin sees them: the client secret only as whether one is set."""
    return {
        "issuer": settings.issuer,
        "client_id": settings.client_id,
        "has_client_secret": settings.client_secret_encrypted is not None,
        "username_claim": settings.username_claim,
        "create_users": settings.create_users,
        "default_department_id": settings.default_department_id,
        "enabled": settings.enabled,
        "passwords_enabled": bool(org.settings.get("password_login", True)),
        "updated_at": settings.updated_at,
    }


def configure(
    session: Session,
    *,
    org: Organization,
    changes: dict[str, Any],
    cipher: MultiFernet,
    allow_http: bool,
    now: datetime,
) -> OidcSettings:
    """Set the organisation's provider. A client secret is stored encrypted; left out, the
    stored one is kept; null removes it."""
    issuer = changes["issuer"]  # kept exactly: tokens must name it character for character
    if not transport_allowed(issuer, allow_http=allow_http):
        raise Unprocessable(
            "The issuer must be an https:// URL.",
            errors={"issuer": ["Use https:// (http:// only outside production)."]},
        )
    department_id = changes.get("default_department_id")
    if department_id is not None:
        orgs.get_department(session, org.id, department_id)
    settings = session.get(OidcSettings, org.id)
    if settings is None:
        settings = OidcSettings(org_id=org.id)
        session.add(settings)
    settings.issuer = issuer
    settings.client_id = changes["client_id"]
    settings.username_claim = changes["username_claim"]
    settings.create_users = changes["create_users"]
    settings.default_department_id = department_id
    settings.enabled = changes.get("enabled", True)
    settings.updated_at = now
    if "client_secret" in changes:
        secret = changes["client_secret"]
        settings.client_secret_encrypted = (
            cipher.encrypt(secret.encode()).decode() if secret else None
        )
    if "passwords_enabled" in changes:
        org.settings = {**(org.settings or {}), "password_login": changes["passwords_enabled"]}
    session.flush()
    return settings


def _settings_for(session: Session, organization: str) -> tuple[Organization, OidcSettings]:
    org = session.scalar(select(Organization).where(Organization.slug == organization))
    settings = session.get(OidcSettings, org.id) if org is not None else None
    if org is None or settings is None or not settings.enabled:
        # The same answer as a token that fails: nothing to learn about who uses SSO.
        raise Unauthorized(REFUSED)
    return org, settings


def _verify(
    client: OidcClient, settings: OidcSettings, id_token: str, **kwargs: Any
) -> dict[str, Any]:
    try:
        return client.verify_id_token(
            id_token, issuer=settings.issuer, client_id=settings.client_id, **kwargs
        )
    except TokenRejected as error:
        raise Unauthorized(REFUSED, extra={"reason": str(error)[:200]}) from None
    except ProviderUnavailable:
        raise ProviderDown(
            "The organization's identity provider did not answer; try again."
        ) from None


def _user_for(
    session: Session, org: Organization, settings: OidcSettings, claims: dict[str, Any]
) -> User:
    """The account an ID token names, created when the organisation allows it."""
    username = rules.username_from_claims(claims, settings.username_claim)
    if username is None:
        raise Unauthorized(f"The identity token has no usable {settings.username_claim!r} claim.")
    user = session.scalar(select(User).where(User.org_id == org.id, User.username == username))
    if user is None:
        if not settings.create_users:
            raise Unauthorized("There is no account for this person; ask an admin.")
        name = claims.get("name")
        user = User(
            org_id=org.id,
            username=username,
            display_name=name if isinstance(name, str) and 0 < len(name) <= 200 else username,
            password_hash=UNUSABLE_PASSWORD,
            department_id=settings.default_department_id,
            roles=["learner"],
        )
        try:
            # In a savepoint: the same person signing in twice at once makes one account.
            with session.begin_nested():
                session.add(user)
        except IntegrityError:
            user = session.scalar(
                select(User).where(User.org_id == org.id, User.username == username)
            )
            if user is None:
                raise
        session.refresh(user)
    if not user.active:
        raise Unauthorized("The account is deactivated.")
    return user


def sign_in_with_id_token(
    session: Session,
    *,
    organization: str,
    id_token: str,
    client: OidcClient,
    policy: TokenPolicy,
    now: datetime,
    login_hours: int = 0,
) -> IssuedTokens:
    """The phone app's sign-in: an ID token it got from the provider (its own PKCE flow),
    verified fully, traded for our token pair."""
    org, settings = _settings_for(session, organization)
    claims = _verify(client, settings, id_token, now=now)
    user = _user_for(session, org, settings, claims)
    return start_login(
        session, user=user, policy=policy, now=now, ends_at=_login_end(now, login_hours)
    )


def start_web_sign_in(
    session: Session,
    *,
    organization: str,
    redirect_uri: str,
    callback_url: str,
    client: OidcClient,
    now: datetime,
) -> str:
    """The dashboard's sign-in: remember state, nonce and PKCE verifier; answer the provider
    URL to send the browser to."""
    org, settings = _settings_for(session, organization)
    state = secrets.token_urlsafe(32)
    nonce = secrets.token_urlsafe(32)
    verifier = secrets.token_urlsafe(64)
    session.add(
        OidcLoginState(
            state=_hash(state),
            org_id=org.id,
            nonce=nonce,
            code_verifier=verifier,
            redirect_uri=redirect_uri,
            created_at=now,
            expires_at=now + LOGIN_STATE_LIFETIME,
        )
    )
    session.flush()
    try:
        return client.authorization_url(
            settings.issuer,
            client_id=settings.client_id,
            redirect_uri=callback_url,
            state=state,
            nonce=nonce,
            code_verifier=verifier,
        )
    except ProviderUnavailable:
        raise ProviderDown(
            "The organization's identity provider did not answer; try again."
        ) from None


@dataclass(frozen=True)
class FinishedSignIn:
    redirect_uri: str
    code: str


def claim_login_state(session: Session, *, state: str, now: datetime) -> OidcLoginState:
    """The sign-in a callback belongs to, used up; 401 for an unknown, used or stale one."""
    claimed = session.execute(
        update(OidcLoginState)
        .where(
            OidcLoginState.state == _hash(state),
            OidcLoginState.used_at.is_(None),
            OidcLoginState.expires_at > now,
        )
        .values(used_at=now)
        .execution_options(synchronize_session=False)
    ).rowcount  # type: ignore[attr-defined]
    login_state = session.get(OidcLoginState, _hash(state)) if claimed else None
    if login_state is None:
        raise Unauthorized("This sign-in is unknown, used or expired; start again.")
    return login_state


def finish_web_sign_in(
    session: Session,
    *,
    login_state: OidcLoginState,
    code: str,
    callback_url: str,
    client: OidcClient,
    cipher: MultiFernet,
    now: datetime,
) -> FinishedSignIn:
    """The provider's callback: trade the code (with the PKCE verifier), verify the ID token
    with the nonce, and make a one-time sign-in code for the page the sign-in started from."""
    org = session.get(Organization, login_state.org_id)
    settings = session.get(OidcSettings, login_state.org_id)
    if org is None or settings is None or not settings.enabled:
        raise Unauthorized(REFUSED)
    secret = (
        cipher.decrypt(settings.client_secret_encrypted.encode()).decode()
        if settings.client_secret_encrypted
        else None
    )
    try:
        tokens = client.exchange_code(
            settings.issuer,
            client_id=settings.client_id,
            client_secret=secret,
            redirect_uri=callback_url,
            code=code,
            code_verifier=login_state.code_verifier,
        )
    except TokenRejected as error:
        raise Unauthorized(REFUSED, extra={"reason": str(error)[:200]}) from None
    except ProviderUnavailable:
        raise ProviderDown(
            "The organization's identity provider did not answer; try again."
        ) from None
    claims = _verify(
        client,
        settings,
        tokens["id_token"],
        now=now,
        nonce=login_state.nonce,
        access_token=tokens.get("access_token"),
    )
    user = _user_for(session, org, settings, claims)
    sign_in_code = secrets.token_urlsafe(32)
    session.add(
        SignInCode(
            code_hash=_hash(sign_in_code),
            user_id=user.id,
            created_at=now,
            expires_at=now + SIGN_IN_CODE_LIFETIME,
        )
    )
    session.flush()
    return FinishedSignIn(redirect_uri=login_state.redirect_uri, code=sign_in_code)


def redeem_sign_in_code(
    session: Session, *, code: str, policy: TokenPolicy, now: datetime, login_hours: int = 0
) -> IssuedTokens:
    """Trade a one-time sign-in code (from the web flow) for a token pair, once."""
    claimed = session.execute(
        update(SignInCode)
        .where(
            SignInCode.code_hash == _hash(code),
            SignInCode.used_at.is_(None),
            SignInCode.expires_at > now,
        )
        .values(used_at=now)
        .execution_options(synchronize_session=False)
    ).rowcount  # type: ignore[attr-defined]
    stored = session.get(SignInCode, _hash(code)) if claimed else None
    user = session.get(User, stored.user_id) if stored is not None else None
    if user is None or not user.active:
        raise Unauthorized("This sign-in code is unknown, used or expired; sign in again.")
    return start_login(
        session, user=user, policy=policy, now=now, ends_at=_login_end(now, login_hours)
    )
