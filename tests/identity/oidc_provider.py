"""A real OpenID Connect provider for the tests (`oidc-provider-mock`), and the steps a
person's browser or the phone app would take with it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

import requests

APP_REDIRECT = "http://app.test/callback"  # the phone app's own redirect (never fetched)


@dataclass
class Provider:
    issuer: str

    def set_person(self, sub: str, **claims: Any) -> None:
        """What the provider will say about `sub` in its tokens."""
        response = requests.put(f"{self.issuer}/users/{sub}", json=claims, timeout=5)
        assert response.status_code == 204, response.text

    def approve(self, authorize_url: str, sub: str) -> str:
        """The person signs in at the provider's page: where the provider redirects next."""
        response = requests.post(authorize_url, data={"sub": sub}, allow_redirects=False, timeout=5)
        assert response.status_code == 302, response.text
        return response.headers["Location"]

    def id_token_for(self, sub: str, *, client_id: str, nonce: str = "n-1") -> str:
        """An ID token for `sub`, as the phone app gets it from its own PKCE sign-in."""
        query = {
            "client_id": client_id,
            "redirect_uri": APP_REDIRECT,
            "response_type": "code",
            "scope": "openid profile email",
            "state": "s-1",
            "nonce": nonce,
        }
        authorize = requests.Request("GET", f"{self.issuer}/oauth2/authorize", params=query)
        location = self.approve(authorize.prepare().url or "", sub)
        code = parse_qs(urlsplit(location).query)["code"][0]
        response = requests.post(
            f"{self.issuer}/oauth2/token",
            data={
                "grant_type": "authorization_code",
                "code": code,
                "redirect_uri": APP_REDIRECT,
                "client_id": client_id,
                "client_secret": "unused",
            },
            timeout=5,
        )
        assert response.status_code == 200, response.text
        return str(response.json()["id_token"])
