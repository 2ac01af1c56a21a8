"""A department on the dashboard: its numbers, downloads, reminders and screens, all through
the API as the manager."""

from __future__ import annotations

import re
from typing import Any

from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from app.orgs.models import Department, Organization, User
from tests import factories
from tests.conftest import auth_headers
from tests.dashboard.test_login_and_forms import csrf_of, log_in
from tests.gamification.play import play


def page_of(client: FlaskClient, department: Department, **query: str) -> Any:
    return client.get(f"/dashboard/departments/{department.id}", query_string=query)


def test_a_manager_sees_the_departments_numbers(
    client: FlaskClient,
    session: Session,
    org: Organization,
    manager: User,
    store: Department,
    learner: User,
    module: Any,
) -> None:
    play(client, session, module, auth_headers(session, learner))
    log_in(client, org, manager)
    index = client.get("/dashboard/")
    assert index.status_code in (200, 303)
    page = page_of(client, store)
    assert page.status_code == 200, page.get_data(as_text=True)[:2000]
    html = page.get_data(as_text=True)
    assert f"<h1>{store.name}</h1>" in html
    members = re.search(r'id="figure-members">(\d+)<', html)
    assert members and int(members.group(1)) == 2  # the manager and the learner (subtree)
    points = re.search(r'id="figure-points">(\d+)<', html)
    assert points and int(points.group(1)) > 0
    assert learner.display_name in html
    assert '<svg id="trend"' in html or "Ingen tall ennå." in html


def test_the_csv_download_comes_from_the_api(
    client: FlaskClient, org: Organization, manager: User, store: Department, learner: User
) -> None:
    log_in(client, org, manager)
    answer = client.get(f"/dashboard/departments/{store.id}/members.csv")
    assert answer.status_code == 200
    assert answer.mimetype == "text/csv"
    assert "attachment" in answer.headers["Content-Disposition"]
    assert learner.display_name in answer.get_data(as_text=True)


def test_another_managers_department_is_refused(
    client: FlaskClient,
    session: Session,
    org: Organization,
    other_org: Organization,
    manager: User,
    warehouse: Department,
) -> None:
    log_in(client, org, manager)
    assert page_of(client, warehouse).status_code == 403
    foreign = factories.make_department(session, other_org, "Rival")
    assert page_of(client, foreign).status_code == 404
    assert client.get(f"/dashboard/departments/{warehouse.id}/members.csv").status_code == 403
    odd = client.get("/dashboard/departments/x%3Fformat%3Dcsv")  # nothing added to the API call
    assert odd.status_code == 404


def test_a_manager_makes_and_removes_a_screen_from_the_dashboard(
    client: FlaskClient, org: Organization, manager: User, store: Department
) -> None:
    log_in(client, org, manager)
    made = client.post(
        f"/dashboard/departments/{store.id}/screens",
        data={"csrf_token": csrf_of(client), "name": "Pauserommet"},
    )
    assert made.status_code == 200
    html = made.get_data(as_text=True)
    link = re.search(r'id="new-screen-url"[^>]*href="([^"]+)"', html)
    assert link and "/screens/" in link.group(1)
    path = "/" + link.group(1).split("://", 1)[1].split("/", 1)[1]
    assert client.get(path).status_code == 200
    again = page_of(client, store).get_data(as_text=True)
    assert "Pauserommet" in again and path not in again  # the link is shown only once
    screen_id = re.search(r"/screens/([0-9A-Z]{26})/delete", again)
    assert screen_id
    removed = client.post(
        f"/dashboard/departments/{store.id}/screens/{screen_id.group(1)}/delete",
        data={"csrf_token": csrf_of(client)},
    )
    assert removed.status_code == 200
    assert client.get(path).status_code == 404


def test_changes_need_the_csrf_token(
    client: FlaskClient, org: Organization, manager: User, store: Department
) -> None:
    log_in(client, org, manager)
    refused = client.post(
        f"/dashboard/departments/{store.id}/screens", data={"name": "Pauserommet"}
    )
    assert refused.status_code == 403
    nudge = client.post(f"/dashboard/departments/{store.id}/nudge", data={"message": "Hei"})
    assert nudge.status_code == 403


def test_a_reminder_goes_through_the_api(
    client: FlaskClient, org: Organization, manager: User, store: Department, learner: User
) -> None:
    log_in(client, org, manager)
    sent = client.post(
        f"/dashboard/departments/{store.id}/nudge",
        data={"csrf_token": csrf_of(client), "message": "Husk ukens sti!"},
    )
    assert sent.status_code == 200
    assert re.search(r"Påminnelse sendt til \d+\.", sent.get_data(as_text=True))
