"""The dashboard's login: the API's tokens in HttpOnly, SameSite=Strict cookies kept to
/dashboard, never in a URL; every form needs this browser's CSRF token."""

from __future__ import annotations

import re
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.auth.models import LoginSession
from app.orgs.models import Organization, User
from tests import factories


def csrf_of(client: FlaskClient, path: str = "/dashboard/") -> str:
    page = client.get(path, follow_redirects=True)
    found = re.search(r'name="csrf_token" value="([^"]+)"', page.get_data(as_text=True))
    assert found, page.get_data(as_text=True)[:500]
    return found.group(1)


def log_in(client: FlaskClient, org: Organization, user: User, **extra: str) -> Any:
    return client.post(
        "/dashboard/login",
        data={
            "csrf_token": csrf_of(client),
            "organization": org.slug,
            "username": user.username,
            "password": factories.PASSWORD,
            **extra,
        },
    )


def cookie_headers(response: Any) -> dict[str, str]:
    return {header.split("=", 1)[0]: header for header in response.headers.getlist("Set-Cookie")}


def test_the_login_page_is_strict_and_sets_a_csrf_cookie(client: FlaskClient) -> None:
    page = client.get("/dashboard/")
    assert page.status_code == 200 and page.mimetype == "text/html"
    assert "script-src 'self'" in page.headers["Content-Security-Policy"]
    assert "unsafe-inline" not in page.headers["Content-Security-Policy"]
    assert page.headers["X-Frame-Options"] == "DENY"
    assert page.headers["Cache-Control"] == "no-store"
    csrf = cookie_headers(page)["nl_dashboard_csrf"]
    assert "HttpOnly" in csrf and "SameSite=Strict" in csrf and "Path=/dashboard" in csrf
    html = page.get_data(as_text=True)
    assert '<label for="username">' in html and '<label for="password">' in html


def test_logging_in_keeps_the_tokens_in_strict_cookies_only(
    client: FlaskClient, org: Organization, manager: User
) -> None:
    answer = log_in(client, org, manager)
    assert answer.status_code == 303
    assert answer.headers["Location"].endswith("/dashboard/")  # no token in the URL
    cookies = cookie_headers(answer)
    for name in ("nl_dashboard_access", "nl_dashboard_refresh"):
        assert "HttpOnly" in cookies[name], cookies[name]
        assert "SameSite=Strict" in cookies[name] and "Path=/dashboard" in cookies[name]
        assert "Secure" not in cookies[name]  # not in development over plain HTTP
    token = cookies["nl_dashboard_access"].split(";")[0].split("=", 1)[1]
    assert token not in client.get("/dashboard/").get_data(as_text=True)


def test_cookies_are_secure_in_production(
    app: Flask, client: FlaskClient, org: Organization, manager: User, monkeypatch: Any
) -> None:
    monkeypatch.setitem(app.config, "ENV_NAME", "production")
    answer = log_in(client, org, manager)
    assert all("Secure" in header for header in cookie_headers(answer).values())


def test_wrong_passwords_are_refused(client: FlaskClient, org: Organization, manager: User) -> None:
    answer = log_in(client, org, manager, password="wrong")
    assert answer.status_code == 401
    assert "nl_dashboard_access" not in cookie_headers(answer)
    assert "Feil organisasjon, brukernavn eller passord." in answer.get_data(as_text=True)


@pytest.mark.parametrize("csrf", [None, "", "forged"])
def test_a_form_without_this_browsers_csrf_token_changes_nothing(
    client: FlaskClient, org: Organization, manager: User, csrf: str | None
) -> None:
    client.get("/dashboard/")
    data = {"organization": org.slug, "username": manager.username, "password": factories.PASSWORD}
    if csrf is not None:
        data["csrf_token"] = csrf
    answer = client.post("/dashboard/login", data=data)
    assert answer.status_code == 403
    assert "nl_dashboard_access" not in cookie_headers(answer)


def test_a_form_from_another_site_is_refused(
    client: FlaskClient, org: Organization, manager: User
) -> None:
    log_in(client, org, manager)
    answer = client.post(
        "/dashboard/logout",
        data={"csrf_token": csrf_of(client)},
        headers={"Origin": "https://evil.example"},
    )
    assert answer.status_code == 403


def test_logging_out_ends_the_login(
    client: FlaskClient, session: Session, org: Organization, manager: User
) -> None:
    log_in(client, org, manager)
    answer = client.post("/dashboard/logout", data={"csrf_token": csrf_of(client)})
    assert answer.status_code == 303
    cleared = cookie_headers(answer)
    assert "Max-Age=0" in cleared["nl_dashboard_access"]
    assert "Max-Age=0" in cleared["nl_dashboard_refresh"]
    logins = session.scalars(select(LoginSession).where(LoginSession.user_id == manager.id)).all()
    assert logins and all(login.revoked_at is not None for login in logins)
    assert '<label for="password">' in client.get("/dashboard/").get_data(as_text=True)


def test_an_expired_access_token_is_renewed_with_the_refresh_token(
    client: FlaskClient, org: Organization, manager: User
) -> None:
    log_in(client, org, manager)
    client.set_cookie("nl_dashboard_access", "expired.or.forged", path="/dashboard")
    page = client.get("/dashboard/")
    assert page.status_code in (200, 303)
    renewed = cookie_headers(page)
    assert "nl_dashboard_access" in renewed and "Max-Age=0" not in renewed["nl_dashboard_access"]
    assert '<label for="password">' not in page.get_data(as_text=True)


def test_learners_are_told_the_dashboard_is_for_managers(
    client: FlaskClient, org: Organization, learner: User
) -> None:
    log_in(client, org, learner)
    page = client.get("/dashboard/")
    assert page.status_code == 403
    assert "Denne siden er for ledere" in page.get_data(as_text=True)


def test_the_page_follows_the_browsers_language(
    client: FlaskClient, org: Organization, manager: User
) -> None:
    page = client.get("/dashboard/", headers={"Accept-Language": "en-GB,en;q=0.9"})
    assert "Log in with the username" in page.get_data(as_text=True)
    page = client.get("/dashboard/", headers={"Accept-Language": "nb-NO"})
    assert "Logg inn med brukernavnet" in page.get_data(as_text=True)
