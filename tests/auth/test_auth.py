"""Login, refresh with reuse detection, logout, deactivation and login rate limits."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from app.auth.tokens import decode_access_token, encode_access_token
from tests.api.test_errors import assert_problem
from tests.conftest import SECRET
from tests.factories import PASSWORD, make_user

LOGIN = "/api/v1/auth/login"
REFRESH = "/api/v1/auth/refresh"
LOGOUT = "/api/v1/auth/logout"


def login(client: Any, username: str = "learner", password: str = PASSWORD, **extra: Any) -> Any:
    body = {"organization": extra.pop("organization", "acme"), "username": username}
    return client.post(LOGIN, json={**body, "password": password}, **extra)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def me(client: Any, access_token: str) -> int:
    return int(client.get("/api/v1/me", headers=bearer(access_token)).status_code)


# --- login -------------------------------------------------------------------------------


def test_login_answers_the_contract_shape(client, learner, checkout):
    response = login(client)
    assert response.status_code == 200, response.json
    body = response.json
    assert set(body) >= {"access_token", "refresh_token", "token_type", "expires_in", "user"}
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 15 * 60
    assert body["user"] == {
        "id": learner.id,
        "username": "learner",
        "display_name": learner.display_name,
        "roles": ["learner"],
        "department": {"id": checkout.id, "name": "Kasse"},
    }
    assert body["access_token"] != body["refresh_token"]
    assert "password" not in response.get_data(as_text=True)
    assert me(client, body["access_token"]) == 200


def test_a_user_without_department_has_department_null(client, editor):
    response = login(client, "editor")
    assert response.status_code == 200
    assert response.json["user"]["department"] is None
    assert response.json["user"]["roles"] == ["editor"]


def test_the_same_username_in_another_org_is_another_account(client, session, learner, other_org):
    make_user(session, other_org, "learner")
    theirs = login(client, organization="rival")
    ours = login(client)
    assert theirs.status_code == ours.status_code == 200
    assert theirs.json["user"]["id"] != ours.json["user"]["id"]


@pytest.mark.parametrize(
    ("organization", "username", "password"),
    [
        ("acme", "learner", "wrong password"),
        ("acme", "nobody", PASSWORD),
        ("no-such-org", "learner", PASSWORD),
        ("rival", "learner", PASSWORD),
    ],
)
def test_wrong_credentials_are_401_with_one_message(
    client, learner, other_org, organization, username, password
):
    response = client.post(
        LOGIN, json={"organization": organization, "username": username, "password": password}
    )
    body = assert_problem(response, 401)
    assert body["detail"] == "Wrong organization, username or password."


def test_a_deactivated_user_cannot_log_in_and_hears_the_same_message(client, session, learner):
    learner.active = False
    session.flush()
    body = assert_problem(login(client), 401)
    assert body["detail"] == "Wrong organization, username or password."


def test_an_imported_user_without_a_password_cannot_log_in(client, session, learner):
    learner.password_hash = "!"
    session.flush()
    assert_problem(login(client, password="!"), 401)


# --- refresh -----------------------------------------------------------------------------


def test_refresh_gives_a_new_pair_that_works(client, learner):
    first = login(client).json
    response = client.post(REFRESH, json={"refresh_token": first["refresh_token"]})
    assert response.status_code == 200, response.json
    second = response.json
    assert second["token_type"] == "Bearer"
    assert second["refresh_token"] != first["refresh_token"]
    assert second["user"]["id"] == learner.id
    assert me(client, second["access_token"]) == 200
    # The same login: both access tokens belong to one session.
    first_claims = decode_access_token(first["access_token"], secret=SECRET)
    second_claims = decode_access_token(second["access_token"], secret=SECRET)
    assert first_claims and second_claims
    assert first_claims.session_id == second_claims.session_id


def test_a_refresh_token_can_be_used_only_once(client, learner):
    first = login(client).json
    assert client.post(REFRESH, json={"refresh_token": first["refresh_token"]}).status_code == 200
    assert_problem(client.post(REFRESH, json={"refresh_token": first["refresh_token"]}), 401)


def test_reusing_a_refresh_token_revokes_every_token_of_that_login(client, learner):
    first = login(client).json
    second = client.post(REFRESH, json={"refresh_token": first["refresh_token"]}).json
    third = client.post(REFRESH, json={"refresh_token": second["refresh_token"]}).json
    assert me(client, third["access_token"]) == 200

    reuse = client.post(REFRESH, json={"refresh_token": first["refresh_token"]})
    assert_problem(reuse, 401)

    # The newest refresh token and every access token of the login stop working.
    assert_problem(client.post(REFRESH, json={"refresh_token": third["refresh_token"]}), 401)
    for pair in (first, second, third):
        assert me(client, pair["access_token"]) == 401


def test_reuse_revokes_only_that_login(client, learner):
    phone = login(client).json
    tablet = login(client).json
    client.post(REFRESH, json={"refresh_token": phone["refresh_token"]})
    client.post(REFRESH, json={"refresh_token": phone["refresh_token"]})  # reuse
    assert me(client, phone["access_token"]) == 401
    assert me(client, tablet["access_token"]) == 200
    assert client.post(REFRESH, json={"refresh_token": tablet["refresh_token"]}).status_code == 200


def test_an_unknown_refresh_token_is_401(client):
    assert_problem(client.post(REFRESH, json={"refresh_token": "made-up"}), 401)


def test_a_refresh_token_past_its_lifetime_is_401(client, learner, frozen_clock):
    pair = login(client).json
    frozen_clock.advance(days=31)
    assert_problem(client.post(REFRESH, json={"refresh_token": pair["refresh_token"]}), 401)


def test_a_deactivated_user_cannot_refresh(client, session, learner):
    pair = login(client).json
    learner.active = False
    session.flush()
    assert_problem(client.post(REFRESH, json={"refresh_token": pair["refresh_token"]}), 401)
    assert me(client, pair["access_token"]) == 401


def test_a_user_deactivated_by_an_admin_cannot_refresh(client, learner, as_admin):
    pair = login(client).json
    response = client.patch(
        f"/api/v1/admin/users/{learner.id}", json={"active": False}, headers=as_admin
    )
    assert response.status_code == 200
    assert_problem(client.post(REFRESH, json={"refresh_token": pair["refresh_token"]}), 401)
    assert me(client, pair["access_token"]) == 401


# --- logout ------------------------------------------------------------------------------


def test_logout_ends_the_login(client, learner):
    pair = login(client).json
    other = login(client).json
    response = client.post(LOGOUT, json={"refresh_token": pair["refresh_token"]})
    assert response.status_code == 204
    assert response.get_data() == b""
    assert me(client, pair["access_token"]) == 401
    assert_problem(client.post(REFRESH, json={"refresh_token": pair["refresh_token"]}), 401)
    # Another login of the same user carries on.
    assert me(client, other["access_token"]) == 200


def test_logout_after_a_refresh_ends_the_new_tokens_too(client, learner):
    first = login(client).json
    second = client.post(REFRESH, json={"refresh_token": first["refresh_token"]}).json
    assert client.post(LOGOUT, json={"refresh_token": second["refresh_token"]}).status_code == 204
    assert me(client, second["access_token"]) == 401


def test_logout_with_an_unknown_token_is_204(client):
    assert client.post(LOGOUT, json={"refresh_token": "unknown"}).status_code == 204


# --- access tokens -----------------------------------------------------------------------


def test_an_expired_access_token_is_401(client, learner):
    pair = login(client).json
    claims = decode_access_token(pair["access_token"], secret=SECRET)
    assert claims is not None
    expired = encode_access_token(
        claims,
        secret=SECRET,
        now=datetime.now(UTC) - timedelta(minutes=16),
        lifetime=timedelta(minutes=15),
    )
    body = assert_problem(client.get("/api/v1/me", headers=bearer(expired)), 401)
    assert "expired" in body["detail"]


def test_a_refresh_token_is_not_an_access_token(client, learner):
    pair = login(client).json
    assert me(client, pair["refresh_token"]) == 401


# --- rate limits -------------------------------------------------------------------------


def test_the_eleventh_login_for_one_account_in_a_minute_is_429(client, learner):
    for _ in range(10):
        assert login(client, password="wrong").status_code == 401
    response = login(client)  # even with the right password
    body = assert_problem(response, 429)
    assert body["type"].endswith("/rate-limited")
    assert int(response.headers["Retry-After"]) > 0
    # Another account from the same address is not affected.
    assert login(client, "editor", password="wrong").status_code == 401


def test_the_per_account_limit_counts_successful_logins_too(client, learner):
    for _ in range(10):
        assert login(client).status_code == 200
    assert_problem(login(client), 429)


def test_the_per_ip_limit_spans_accounts_and_spares_other_addresses(app, client, monkeypatch):
    monkeypatch.setitem(app.config, "LOGIN_LIMIT_PER_IP", "3/minute")
    store = {"REMOTE_ADDR": "10.0.0.7"}
    for n in range(3):
        assert login(client, f"user{n}", environ_base=store).status_code == 401
    response = login(client, "user9", environ_base=store)
    assert_problem(response, 429)
    assert int(response.headers["Retry-After"]) > 0
    elsewhere = login(client, "user9", environ_base={"REMOTE_ADDR": "10.0.0.8"})
    assert elsewhere.status_code == 401


def test_the_default_per_ip_limit_lets_a_store_share_an_address(app, client):
    # The contract: at least 100 logins a minute from one address.
    from app.config import load_settings

    assert app.config["LOGIN_LIMIT_PER_IP"] == load_settings().login_limit_per_ip
    amount, _, period = app.config["LOGIN_LIMIT_PER_IP"].partition("/")
    assert int(amount) >= 100 and period in ("minute", "1 minute")
    amount, _, period = app.config["LOGIN_LIMIT_PER_ACCOUNT"].partition("/")
    assert int(amount) >= 10 and period in ("minute", "1 minute")


def test_the_default_limit_counts_per_user_not_per_shared_address(app, session, learner, colleague):
    """A store's staff share one address; each has their own request budget."""
    from app.rate_limits import caller_key
    from tests.conftest import auth_headers

    store = {"REMOTE_ADDR": "10.1.1.1"}
    mine, theirs = auth_headers(session, learner), auth_headers(session, colleague)
    keys = []
    for headers in (mine, theirs, {}, {"Authorization": "Bearer garbage"}):
        with app.test_request_context("/api/v1/me", headers=headers, environ_base=store):
            keys.append(caller_key())
    assert keys == [f"user:{learner.id}", f"user:{colleague.id}", "ip:10.1.1.1", "ip:10.1.1.1"]


def test_the_account_limit_does_not_reset_at_a_minute_boundary(app, client, learner):
    # A sliding window counter: the previous minute's attempts weigh in, so 10 wrong
    # passwords at 12:00:59 are not followed by 10 more at 12:01:00 (a fixed window would).
    from limits.strategies import SlidingWindowCounterRateLimiter

    counter = app.extensions["view_limits"]._shared._limiter
    assert isinstance(counter, SlidingWindowCounterRateLimiter)
    for _ in range(10):
        login(client, password="wrong")
    response = login(client)
    assert_problem(response, 429)
    assert 0 < int(response.headers["Retry-After"]) <= 60
