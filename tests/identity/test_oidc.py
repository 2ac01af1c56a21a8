"""Single sign-on against a real OpenID Connect provider started by the tests: the phone
app's ID-token exchange, the dashboard's redirect flow, and every token that must be refused."""

from __future__ import annotations

import base64
import json
import time
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import select

from app import clock
from app.encryption import cipher_from_config
from app.identity.models import OidcSettings
from app.identity.oidc import TokenRejected
from app.orgs.models import User
from tests import factories
from tests.api.test_errors import assert_problem
from tests.conftest import SECRET

OIDC = "/api/v1/admin/integrations/oidc"
EXCHANGE = "/api/v1/auth/oidc/exchange"
CLIENT_ID = "nanolearn-acme"


def configure(client, headers, issuer, **changes):
    body = {
        "issuer": issuer,
        "client_id": CLIENT_ID,
        "client_secret": "s3cret-of-acme",
        "username_claim": "preferred_username",
        "create_users": False,
        **changes,
    }
    response = client.put(OIDC, json=body, headers=headers)
    assert response.status_code == 200, response.json
    return response.json


def exchange(client, id_token, organization="acme"):
    return client.post(EXCHANGE, json={"organization": organization, "id_token": id_token})


@pytest.fixture
def sso(client, session, idp, learner, as_admin):
    """Acme signs in with `idp`; the provider knows the learner as `learner`."""
    configure(client, as_admin, idp.issuer)
    idp.set_person("sub-learner", preferred_username="learner", name="Lea Learner")
    return idp


def test_settings_keep_the_secret_encrypted_and_never_show_it(
    client, session, org, idp, store, as_admin
):
    body = configure(client, as_admin, idp.issuer, default_department_id=store.id)
    assert body["has_client_secret"] is True and "client_secret" not in body
    assert body["passwords_enabled"] is True
    stored = session.get(OidcSettings, org.id)
    assert "s3cret-of-acme" not in stored.client_secret_encrypted
    cipher = cipher_from_config(None, SECRET)
    assert cipher.decrypt(stored.client_secret_encrypted.encode()) == b"s3cret-of-acme"
    # Left out: kept. Null: removed.
    again = client.put(OIDC, json={"issuer": idp.issuer, "client_id": CLIENT_ID}, headers=as_admin)
    assert again.json["has_client_secret"] is True
    cleared = client.put(
        OIDC,
        json={"issuer": idp.issuer, "client_id": CLIENT_ID, "client_secret": None},
        headers=as_admin,
    )
    assert cleared.json["has_client_secret"] is False
    assert client.get(OIDC, headers=as_admin).json["issuer"] == idp.issuer


def test_settings_refusals(client, session, app, other_org, idp, as_admin, as_learner, monkeypatch):
    assert_problem(client.get(OIDC, headers=as_admin), 404)  # none set yet
    assert_problem(client.put(OIDC, json={"issuer": idp.issuer}, headers=as_admin), 422)
    assert_problem(
        client.put(OIDC, json={"issuer": "ftp://x", "client_id": "c"}, headers=as_admin), 422
    )
    theirs = factories.make_department(session, other_org, "Deres")
    assert_problem(
        client.put(
            OIDC,
            json={"issuer": idp.issuer, "client_id": "c", "default_department_id": theirs.id},
            headers=as_admin,
        ),
        404,
    )
    assert_problem(
        client.put(OIDC, json={"issuer": idp.issuer, "client_id": "c"}, headers=as_learner), 403
    )
    # In production an http:// issuer needs the setting.
    monkeypatch.setitem(app.config, "OIDC_ALLOW_HTTP", False)
    refused = client.put(OIDC, json={"issuer": idp.issuer, "client_id": "c"}, headers=as_admin)
    assert "issuer" in assert_problem(refused, 422)["errors"]


def test_the_phone_app_signs_in_with_its_id_token(client, session, sso, learner):
    response = exchange(client, sso.id_token_for("sub-learner", client_id=CLIENT_ID))
    assert response.status_code == 200, response.json
    assert response.json["user"]["id"] == learner.id
    bearer = {"Authorization": f"Bearer {response.json['access_token']}"}
    assert client.get("/api/v1/me", headers=bearer).json["username"] == "learner"
    refreshed = client.post(
        "/api/v1/auth/refresh", json={"refresh_token": response.json["refresh_token"]}
    )
    assert refreshed.status_code == 200


def _forge(id_token: str, **claims: object) -> str:
    """The same header and signature over changed claims: what an attacker could send."""
    header, payload, signature = id_token.split(".")
    data = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    data.update(claims)
    forged = base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()
    return f"{header}.{forged}.{signature}"


def test_refused_tokens(client, session, sso, other_idp, admin, monkeypatch):
    other_idp.set_person("sub-learner", preferred_username="learner")
    refusals = {
        "another issuer": other_idp.id_token_for("sub-learner", client_id=CLIENT_ID),
        "wrong audience": sso.id_token_for("sub-learner", client_id="someone-else"),
        "bad signature": _forge(
            sso.id_token_for("sub-learner", client_id=CLIENT_ID), preferred_username="admin"
        ),
        "not a token": "not.a.token",
        "unsigned": _forge("eyJhbGciOiJub25lIn0.e30.", iss=sso.issuer, aud=CLIENT_ID),
    }
    for case, token in refusals.items():
        response = exchange(client, token)
        assert response.status_code == 401, (case, response.json)
        assert_problem(response, 401)

    # Expired: the provider's tokens live an hour; two hours later the same token is refused.
    token = sso.id_token_for("sub-learner", client_id=CLIENT_ID)
    assert exchange(client, token).status_code == 200
    real_now = clock.now()
    monkeypatch.setattr(clock, "now", lambda: real_now + timedelta(hours=2))
    assert_problem(exchange(client, token), 401)


def test_a_token_of_one_organisations_provider_never_signs_into_another(
    client, session, sso, other_idp, other_org, other_org_admin, as_other_org_admin
):
    factories.make_user(session, other_org, "learner")  # the same username over there
    configure(client, as_other_org_admin, other_idp.issuer, client_id="nanolearn-rival")
    token = sso.id_token_for("sub-learner", client_id=CLIENT_ID)
    assert_problem(exchange(client, token, organization="rival"), 401)
    # Even a token of the same provider for the other organisation's client is refused here.
    theirs = sso.id_token_for("sub-learner", client_id="nanolearn-rival")
    assert_problem(exchange(client, theirs, organization="rival"), 401)
    assert_problem(exchange(client, theirs, organization="acme"), 401)
    assert_problem(exchange(client, token, organization="nope"), 401)
    assert exchange(client, token, organization="acme").status_code == 200


def test_unknown_people_are_refused_or_created(client, session, org, sso, store, as_admin):
    sso.set_person("sub-new", preferred_username="new.person", name="Ny Person")
    token = sso.id_token_for("sub-new", client_id=CLIENT_ID)
    assert_problem(exchange(client, token), 401)
    assert session.scalar(select(User).where(User.username == "new.person")) is None

    configure(client, as_admin, sso.issuer, create_users=True, default_department_id=store.id)
    response = exchange(client, sso.id_token_for("sub-new", client_id=CLIENT_ID))
    assert response.status_code == 200, response.json
    created = session.get(User, response.json["user"]["id"])
    assert (created.display_name, created.department_id, created.roles) == (
        "Ny Person",
        store.id,
        ["learner"],
    )
    # A token without the username claim is refused.
    sso.set_person("sub-nameless", name="Uten Navn")
    assert_problem(exchange(client, sso.id_token_for("sub-nameless", client_id=CLIENT_ID)), 401)


def test_a_deactivated_person_cannot_sign_in(client, session, sso, learner, as_admin):
    client.patch(f"/api/v1/admin/users/{learner.id}", json={"active": False}, headers=as_admin)
    assert_problem(exchange(client, sso.id_token_for("sub-learner", client_id=CLIENT_ID)), 401)


def test_passwords_off_leaves_sso_and_admins_passwords(
    client, session, sso, learner, admin, as_admin
):
    configure(client, as_admin, sso.issuer, passwords_enabled=False)

    def password_login(username):
        return client.post(
            "/api/v1/auth/login",
            json={"organization": "acme", "username": username, "password": factories.PASSWORD},
        )

    assert_problem(password_login("learner"), 401)
    assert password_login("admin").status_code == 200
    assert exchange(client, sso.id_token_for("sub-learner", client_id=CLIENT_ID)).status_code == 200
    assert client.get(OIDC, headers=as_admin).json["passwords_enabled"] is False


def test_keys_rotated_at_the_provider_are_fetched_again(client, app, session, sso, other_idp):
    exchange(client, sso.id_token_for("sub-learner", client_id=CLIENT_ID))  # warm the cache
    oidc_client = app.extensions["oidc_client"]
    metadata = oidc_client.metadata(sso.issuer)
    old_keys = requests_json(f"{other_idp.issuer}/jwks")  # keys the provider no longer uses
    token = sso.id_token_for("sub-learner", client_id=CLIENT_ID)

    # Fetched just now: an unknown key id does not fetch again (no flood of fetches).
    oidc_client.remember(sso.issuer, metadata, old_keys, at=time.monotonic())
    assert_problem(exchange(client, token), 401)
    # Fetched a while ago: the unknown key id fetches the provider's current keys.
    oidc_client.remember(sso.issuer, metadata, old_keys, at=time.monotonic() - 60)
    assert exchange(client, token).status_code == 200


def requests_json(url):
    import requests

    return requests.get(url, timeout=5).json()


def test_nonce_is_checked(app, sso):
    token = sso.id_token_for("sub-learner", client_id=CLIENT_ID, nonce="the-nonce")
    oidc_client = app.extensions.get("oidc_client")
    if oidc_client is None:
        from app.identity.oidc import OidcClient

        oidc_client = OidcClient(allow_http=True)
    verified = oidc_client.verify_id_token(
        token, issuer=sso.issuer, client_id=CLIENT_ID, now=clock.now(), nonce="the-nonce"
    )
    assert verified["preferred_username"] == "learner"
    with pytest.raises(TokenRejected):
        oidc_client.verify_id_token(
            token, issuer=sso.issuer, client_id=CLIENT_ID, now=clock.now(), nonce="another"
        )


def _follow_web_sign_in(client, idp, sub, redirect_uri="/dashboard/"):
    start = client.get("/api/v1/auth/oidc/acme/start", query_string={"redirect_uri": redirect_uri})
    assert start.status_code == 302, start.json
    authorize_url = start.headers["Location"]
    query = parse_qs(urlsplit(authorize_url).query)
    assert authorize_url.startswith(f"{idp.issuer}/")
    assert query["code_challenge_method"] == ["S256"] and query["code_challenge"]
    assert query["nonce"] and query["state"] and query["client_id"] == [CLIENT_ID]
    callback = urlsplit(idp.approve(authorize_url, sub))
    assert callback.path == "/api/v1/auth/oidc/callback"
    return client.get(f"{callback.path}?{callback.query}"), callback


def test_the_dashboard_signs_in_through_the_redirect_flow(client, session, sso, learner):
    ended, callback = _follow_web_sign_in(client, sso, "sub-learner")
    assert ended.status_code == 302
    target = urlsplit(ended.headers["Location"])
    assert target.path == "/dashboard/"
    code = parse_qs(target.query)["oidc_code"][0]

    tokens = client.post("/api/v1/auth/oidc/token", json={"code": code})
    assert tokens.status_code == 200, tokens.json
    assert tokens.json["user"]["id"] == learner.id
    bearer = {"Authorization": f"Bearer {tokens.json['access_token']}"}
    assert client.get("/api/v1/me", headers=bearer).status_code == 200
    # The code and the callback work once.
    assert_problem(client.post("/api/v1/auth/oidc/token", json={"code": code}), 401)
    assert_problem(client.get(f"{callback.path}?{callback.query}"), 401)


def test_web_flow_refusals(client, session, sso, monkeypatch):
    for evil in ("https://evil.example/", "//evil.example/x", "javascript:alert(1)"):
        response = client.get("/api/v1/auth/oidc/acme/start", query_string={"redirect_uri": evil})
        assert "redirect_uri" in assert_problem(response, 422)["errors"]
    assert_problem(
        client.get("/api/v1/auth/oidc/rival/start", query_string={"redirect_uri": "/d/"}), 401
    )
    assert_problem(
        client.get("/api/v1/auth/oidc/callback", query_string={"state": "x", "code": "y"}), 401
    )
    assert_problem(client.post("/api/v1/auth/oidc/token", json={"code": "made-up"}), 401)
    # A person the organisation does not know ends back at the page with an error.
    sso.set_person("sub-stranger", preferred_username="stranger")
    ended, _ = _follow_web_sign_in(client, sso, "sub-stranger")
    assert parse_qs(urlsplit(ended.headers["Location"]).query) == {"oidc_error": ["refused"]}
    # A sign-in code is good for a minute.
    ended, _ = _follow_web_sign_in(client, sso, "sub-learner")
    code = parse_qs(urlsplit(ended.headers["Location"]).query)["oidc_code"][0]
    real_now = clock.now()
    monkeypatch.setattr(clock, "now", lambda: real_now + timedelta(minutes=2))
    assert_problem(client.post("/api/v1/auth/oidc/token", json={"code": code}), 401)


def test_a_login_by_sso_stops_refreshing_after_oidc_login_hours(
    client, session, app, sso, learner, monkeypatch
):
    """A person disabled at the provider (without SCIM) is out once the login's hours are up:
    the app must sign in at the provider again, which refuses them. Password logins are not
    capped."""
    assert app.config["OIDC_LOGIN_HOURS"] == 24
    pair = exchange(client, sso.id_token_for("sub-learner", client_id=CLIENT_ID)).json
    by_password = client.post(
        "/api/v1/auth/login",
        json={"organization": "acme", "username": "learner", "password": factories.PASSWORD},
    ).json
    real_now = clock.now()
    monkeypatch.setattr(clock, "now", lambda: real_now + timedelta(hours=23))
    refreshed = client.post("/api/v1/auth/refresh", json={"refresh_token": pair["refresh_token"]})
    assert refreshed.status_code == 200
    monkeypatch.setattr(clock, "now", lambda: real_now + timedelta(hours=25))
    ended = client.post(
        "/api/v1/auth/refresh", json={"refresh_token": refreshed.json["refresh_token"]}
    )
    assert_problem(ended, 401)
    password_refresh = client.post(
        "/api/v1/auth/refresh", json={"refresh_token": by_password["refresh_token"]}
    )
    assert password_refresh.status_code == 200


def test_the_dashboards_company_sign_in_ends_in_the_dashboard_signed_in(
    client, session, sso, manager
):
    sso.set_person("sub-manager", preferred_username="manager", name="Mona Manager")
    login_page = client.get("/dashboard/").get_data(as_text=True)
    assert "/dashboard/sso" in login_page  # the company sign-in button
    started = client.get("/dashboard/sso", query_string={"organization": "acme"})
    assert started.status_code == 303
    start = urlsplit(started.headers["Location"])
    assert start.path == "/api/v1/auth/oidc/acme/start"
    provider = client.get(f"{start.path}?{start.query}")
    assert provider.status_code == 302
    callback = urlsplit(sso.approve(provider.headers["Location"], "sub-manager"))
    ended = client.get(f"{callback.path}?{callback.query}")
    done = urlsplit(ended.headers["Location"])
    assert done.path == "/dashboard/sso/done"

    signed_in = client.get(f"{done.path}?{done.query}")
    assert signed_in.status_code == 303
    cookies = " ".join(signed_in.headers.getlist("Set-Cookie"))
    assert "nl_dashboard_access=" in cookies and "HttpOnly" in cookies
    assert "oidc_code" not in signed_in.headers["Location"]
    page = client.get("/dashboard/")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert 'name="password"' not in html  # not the login page: the manager's departments
    assert "Kasse" in html
    # The code works once: a replayed end of the sign-in is refused.
    again = client.get(f"{done.path}?{done.query}")
    assert again.status_code == 401
