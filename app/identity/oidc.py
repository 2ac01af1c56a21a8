"""The adapter to OpenID Connect providers: discovery and keys fetched over HTTP and kept per
process, ID tokens verified with joserfc and Authlib's OpenID claims, the authorization-code
flow with PKCE through Authlib's client. No JOSE is written here by hand."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

import requests
from authlib.integrations.requests_client import OAuth2Session
from authlib.oidc.core import CodeIDToken, IDToken
from joserfc import jwt
from joserfc.errors import BadSignatureError, InvalidKeyIdError, JoseError
from joserfc.jwk import KeySet
from joserfc.jws import JWSRegistry

log = logging.getLogger(__name__)

# Signatures with the provider's public keys only: never "none", never a shared secret.
ASYMMETRIC_ALGORITHMS = (
    "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA",
)  # fmt: skip
SCOPE = "openid profile email"


class ProviderUnavailable(Exception):
    """The identity provider could not be reached or answered nonsense."""


class TokenRejected(Exception):
    """The ID token did not verify (signature, issuer, audience, expiry, nonce...)."""


def transport_allowed(url: str, *, allow_http: bool) -> bool:
    """https always; http only where allowed (outside production, or by a setting)."""
    parts = urlsplit(url)
    if not parts.hostname:
        return False
    return parts.scheme == "https" or (parts.scheme == "http" and allow_http)


@dataclass
class _Provider:
    metadata: dict[str, Any]
    keys: KeySet
    fetched_at: float
    keys_fetched_at: float


@dataclass
class OidcClient:
    """Discovery documents and key sets by issuer, kept `ttl` seconds; a token signed with a
    key not in the kept set fetches the set again (the provider rotated its keys), at most
    once every `refetch_after` seconds per issuer so made-up tokens cannot flood it."""

    allow_http: bool
    ttl: float = 3600.0
    refetch_after: float = 10.0
    timeout: float = 5.0
    clock: Callable[[], float] = time.monotonic
    _providers: dict[str, _Provider] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def _get_json(self, url: str) -> dict[str, Any]:
        if not transport_allowed(url, allow_http=self.allow_http):
            raise ProviderUnavailable(f"refusing a non-https URL: {url}")
        try:
            response = requests.get(url, timeout=self.timeout)
            response.raise_for_status()
            body = response.json()
        except (requests.RequestException, ValueError) as error:
            raise ProviderUnavailable(f"{url}: {error}") from error
        if not isinstance(body, dict):
            raise ProviderUnavailable(f"{url}: not a JSON object")
        return body

    def _discover(self, issuer: str) -> _Provider:
        metadata = self._get_json(issuer.rstrip("/") + "/.well-known/openid-configuration")
        # OpenID Connect Discovery 1.0, 4.3: the document must name the same issuer.
        if metadata.get("issuer") != issuer:
            raise ProviderUnavailable(
                f"discovery names issuer {metadata.get('issuer')!r}, not {issuer!r}"
            )
        for name in ("authorization_endpoint", "token_endpoint", "jwks_uri"):
            if not isinstance(metadata.get(name), str):
                raise ProviderUnavailable(f"discovery lacks {name}")
        now = self.clock()
        return _Provider(metadata, self._fetch_keys(metadata["jwks_uri"]), now, now)

    def _fetch_keys(self, jwks_uri: str) -> KeySet:
        try:
            return KeySet.import_key_set(self._get_json(jwks_uri))  # type: ignore[arg-type]
        except (JoseError, ValueError, TypeError, KeyError) as error:
            raise ProviderUnavailable(f"{jwks_uri}: unusable key set: {error}") from error

    def provider(self, issuer: str) -> _Provider:
        with self._lock:
            known = self._providers.get(issuer)
        if known is None or self.clock() - known.fetched_at > self.ttl:
            known = self._discover(issuer)
            with self._lock:
                self._providers[issuer] = known
        return known

    def metadata(self, issuer: str) -> dict[str, Any]:
        return self.provider(issuer).metadata

    def remember(
        self, issuer: str, metadata: dict[str, Any], keys: dict[str, Any], at: float
    ) -> None:
        """Put a provider's documents in the cache as if fetched at `at` (for tests and
        warm-up)."""
        with self._lock:
            self._providers[issuer] = _Provider(metadata, KeySet.import_key_set(keys), at, at)  # type: ignore[arg-type]

    def _refetch_keys(self, issuer: str, provider: _Provider) -> KeySet | None:
        if self.clock() - provider.keys_fetched_at < self.refetch_after:
            return None
        provider.keys = self._fetch_keys(provider.metadata["jwks_uri"])
        provider.keys_fetched_at = self.clock()
        return provider.keys

    def verify_id_token(
        self,
        id_token: str,
        *,
        issuer: str,
        client_id: str,
        now: datetime,
        nonce: str | None = None,
        access_token: str | None = None,
        leeway: int = 60,
    ) -> dict[str, Any]:
        """The claims of an ID token that verifies fully: signature by one of the issuer's
        current keys, `iss`, `aud` (and `azp`), `exp`, `iat`, and `nonce` when one was sent."""
        provider = self.provider(issuer)
        offered = provider.metadata.get("id_token_signing_alg_values_supported") or ["RS256"]
        algorithms = [alg for alg in offered if alg in ASYMMETRIC_ALGORITHMS] or ["RS256"]
        registry = JWSRegistry(algorithms=algorithms)
        try:
            try:
                token = jwt.decode(id_token, provider.keys, registry=registry)
            except (InvalidKeyIdError, BadSignatureError):
                # A key id we do not hold, or (for a token without a key id) a signature none
                # of our keys makes: the provider may have rotated its keys.
                keys = self._refetch_keys(issuer, provider)
                if keys is None:
                    raise
                token = jwt.decode(id_token, keys, registry=registry)
            claims_cls = CodeIDToken if access_token else IDToken
            params = {"nonce": nonce, "client_id": client_id}
            if access_token:
                params["access_token"] = access_token
            claims = claims_cls(
                token.claims,
                token.header,
                {
                    "iss": {"essential": True, "value": issuer},
                    "aud": {"essential": True, "value": client_id},
                    "sub": {"essential": True},
                },
                params,
            )
            claims.validate(now=int(now.timestamp()), leeway=leeway)
        except (JoseError, ValueError, TypeError) as error:
            raise TokenRejected(f"{type(error).__name__}: {error}") from error
        if nonce is not None and claims.get("nonce") != nonce:
            raise TokenRejected("nonce missing or different")
        return dict(claims)

    def authorization_url(
        self,
        issuer: str,
        *,
        client_id: str,
        redirect_uri: str,
        state: str,
        nonce: str,
        code_verifier: str,
    ) -> str:
        """Where to send the browser: the provider's authorization endpoint with PKCE (S256)."""
        session = OAuth2Session(
            client_id, scope=SCOPE, redirect_uri=redirect_uri, code_challenge_method="S256"
        )
        url, _state = session.create_authorization_url(
            self.metadata(issuer)["authorization_endpoint"],
            state=state,
            nonce=nonce,
            code_verifier=code_verifier,
        )
        return str(url)

    def exchange_code(
        self,
        issuer: str,
        *,
        client_id: str,
        client_secret: str | None,
        redirect_uri: str,
        code: str,
        code_verifier: str,
    ) -> dict[str, Any]:
        """Trade an authorization code (and the PKCE verifier) at the token endpoint."""
        token_endpoint = self.metadata(issuer)["token_endpoint"]
        if not transport_allowed(token_endpoint, allow_http=self.allow_http):
            raise ProviderUnavailable(f"refusing a non-https token endpoint: {token_endpoint}")
        session = OAuth2Session(
            client_id,
            client_secret,
            redirect_uri=redirect_uri,
            token_endpoint_auth_method="client_secret_post" if client_secret else "none",
        )
        try:
            token = session.fetch_token(
                token_endpoint, code=code, code_verifier=code_verifier, timeout=self.timeout
            )
        except requests.RequestException as error:
            raise ProviderUnavailable(f"{token_endpoint}: {error}") from error
        except Exception as error:  # Authlib raises OAuthError for the provider's refusals
            raise TokenRejected(f"the provider refused the code: {error}") from error
        if not isinstance(token, dict) or "id_token" not in token:
            raise TokenRejected("the provider answered without an ID token")
        return dict(token)
