"""SCIM 2.0 provisioning, driven by a real SCIM client library (`scim2-client`, in-process
WSGI transport into the app) as an HR system would, and the refusals a token of one
organisation meets in another."""

from __future__ import annotations

import pytest
from scim2_client.engines.wsgi import WSGISCIMClient
from scim2_models import (
    EnterpriseUser,
    Group,
    ListResponse,
    PatchOp,
    PatchOperation,
    SCIMException,
    SearchRequest,
    User,
)
from sqlalchemy import func, select

from app.identity.models import ScimToken
from app.orgs.models import Department
from app.orgs.models import User as Account
from tests import factories
from tests.conftest import auth_headers

ScimUser = User[EnterpriseUser]
TOKENS = "/api/v1/admin/integrations/scim/token"


def issue_token(client, headers) -> str:
    response = client.post(TOKENS, headers=headers)
    assert response.status_code == 201, response.json
    return str(response.json["token"])


def scim_client(app, token: str) -> WSGISCIMClient:
    scim = WSGISCIMClient(
        app, base_url="http://localhost/scim/v2", headers={"Authorization": f"Bearer {token}"}
    )
    scim.discover()  # Schemas, ResourceTypes and ServiceProviderConfig, as published
    return scim


@pytest.fixture
def hr(app, client, as_admin):
    """The HR system of Acme, with its own SCIM token."""
    return scim_client(app, issue_token(client, as_admin))


def members(hr, group_id) -> set[str]:
    group = hr.query(Group, group_id)
    return {str(member.value) for member in group.members or []}


def add_members(user_ids) -> PatchOp:
    return PatchOp[Group](
        operations=[
            PatchOperation[Group](
                op="add", path="members", value=[{"value": uid} for uid in user_ids]
            )
        ]
    )


def test_an_hr_provisioning_run(app, client, session, org, hr, as_admin):
    """200 people in 20 departments; 10 move, 5 leave (their logins end at once), one
    department is renamed."""
    config = hr.service_provider_config
    assert config.patch.supported and config.filter.supported

    departments = [hr.create(Group(display_name=f"Butikk {n:02d}")) for n in range(20)]
    people = []
    for n in range(200):
        person = hr.create(
            ScimUser(
                user_name=f"ansatt{n:03d}@acme.example",
                display_name=f"Ansatt {n:03d}",
                external_id=f"HR-{n:05d}",
                active=True,
            )
        )
        people.append(person)
    for index, department in enumerate(departments):
        hr.modify(
            Group, department.id, add_members(p.id for p in people[index * 10 : index * 10 + 10])
        )

    assert all(len(members(hr, d.id)) == 10 for d in departments)
    # Found by userName (case-insensitive, as RFC 7643 says), and paged by startIndex/count.
    found = hr.query(
        ScimUser, query_parameters=SearchRequest(filter='userName eq "ANSATT042@acme.example"')
    )
    assert isinstance(found, ListResponse) and found.total_results == 1
    [match] = found.resources
    assert match.external_id == "HR-00042" and match.groups[0].value == departments[4].id
    total = session.scalar(
        select(func.count()).select_from(Account).where(Account.org_id == org.id)
    )
    page = hr.query(ScimUser, query_parameters=SearchRequest(start_index=51, count=50))
    assert (page.total_results, page.start_index, len(page.resources)) == (total, 51, 50)
    seen = set()
    start = 1
    while start <= total:
        batch = hr.query(ScimUser, query_parameters=SearchRequest(start_index=start, count=37))
        seen |= {r.id for r in batch.resources}
        start += 37
    assert len(seen) == total

    # Ten people move from the first department to the last.
    movers = [p.id for p in people[:10]]
    hr.modify(Group, departments[19].id, add_members(movers))
    assert members(hr, departments[0].id) == set()
    assert members(hr, departments[19].id) >= set(movers)
    assert {hr.query(ScimUser, uid).groups[0].value for uid in movers} == {departments[19].id}

    # Five leave: deactivated by PATCH; one of them had signed in, and is out at once.
    leavers = people[100:105]
    signed_in = auth_headers(session, session.get(Account, leavers[0].id))
    assert client.get("/api/v1/me", headers=signed_in).status_code == 200
    for person in leavers:
        patched = hr.modify(
            ScimUser,
            person.id,
            PatchOp[ScimUser](
                operations=[PatchOperation[ScimUser](op="replace", path="active", value=False)]
            ),
        )
        assert patched.active is False
    assert client.get("/api/v1/me", headers=signed_in).status_code == 401
    inactive = client.get(
        "/api/v1/admin/users", query_string={"active": "false", "limit": 100}, headers=as_admin
    )
    assert {i["id"] for i in inactive.json["items"]} == {p.id for p in leavers}

    # A department is renamed.
    hr.modify(
        Group,
        departments[5].id,
        PatchOp[Group](
            operations=[
                PatchOperation[Group](op="replace", path="displayName", value="Butikk Sentrum")
            ]
        ),
    )
    assert session.get(Department, departments[5].id).name == "Butikk Sentrum"
    assert len(members(hr, departments[5].id)) == 10

    # PUT replaces, DELETE deactivates (history kept).
    person = people[150]
    replaced = hr.replace(
        ScimUser(id=person.id, user_name=person.user_name, display_name="Nytt Navn", active=True)
    )
    assert replaced.display_name == "Nytt Navn" and replaced.groups[0].value == departments[15].id
    hr.delete(ScimUser, people[151].id)
    assert session.get(Account, people[151].id).active is False
    assert hr.query(ScimUser, people[151].id).active is False


def test_scim_errors_are_in_scims_format(app, client, session, hr):
    hr.create(ScimUser(user_name="kari", display_name="Kari"))
    with pytest.raises(SCIMException) as taken:
        hr.create(ScimUser(user_name="KARI", display_name="Kari igjen"))
    assert taken.value.to_error().status == 409
    assert taken.value.to_error().scim_type == "uniqueness"

    headers = {
        "Authorization": hr.headers["Authorization"],
        "Content-Type": "application/scim+json",
    }
    bad_filter = client.get(
        "/scim/v2/Users", query_string={"filter": "userName eq"}, headers=headers
    )
    assert bad_filter.status_code == 400
    assert bad_filter.mimetype == "application/scim+json"
    assert bad_filter.json["scimType"] == "invalidFilter"
    assert bad_filter.json["schemas"] == ["urn:ietf:params:scim:api:messages:2.0:Error"]
    unsupported = client.get(
        "/scim/v2/Users", query_string={"filter": 'title eq "x"'}, headers=headers
    )
    assert unsupported.status_code == 400 and unsupported.json["scimType"] == "invalidFilter"
    not_json = client.post("/scim/v2/Users", data="{nope", headers=headers)
    assert not_json.status_code == 400 and not_json.json["scimType"] == "invalidSyntax"
    no_name = client.post(
        "/scim/v2/Users",
        json={"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"]},
        headers=headers,
    )
    assert no_name.status_code == 400 and no_name.json["status"] == "400"
    bad_name = client.post(
        "/scim/v2/Users",
        json={"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "has space"},
        headers=headers,
    )
    assert bad_name.status_code == 400 and bad_name.json["scimType"] == "invalidValue"
    missing = client.get("/scim/v2/Users/nope", headers=headers)
    assert missing.status_code == 404 and missing.json["status"] == "404"
    assert (
        client.get("/scim/v2/Users", query_string={"count": "many"}, headers=headers).status_code
        == 400
    )


def test_tokens_are_hashed_revocable_and_required(app, client, session, org, as_admin, as_learner):
    token = issue_token(client, as_admin)
    [stored] = session.scalars(select(ScimToken)).all()
    assert token not in stored.token_hash and stored.org_id == org.id
    listed = client.get("/api/v1/admin/integrations/scim/tokens", headers=as_admin).json["items"]
    assert [t["id"] for t in listed] == [stored.id] and "token" not in listed[0]
    assert client.post(TOKENS, headers=as_learner).status_code == 403

    def get_users(bearer):
        headers = {"Authorization": f"Bearer {bearer}"} if bearer else {}
        return client.get("/scim/v2/Users", headers=headers)

    assert get_users(token).status_code == 200
    for wrong in (None, "scim_made-up", token + "x"):
        refused = get_users(wrong)
        assert refused.status_code == 401 and refused.json["status"] == "401"
    # An access token of a user is not a SCIM token.
    assert client.get("/scim/v2/Users", headers=as_admin).status_code == 401
    revoked = client.delete(f"/api/v1/admin/integrations/scim/tokens/{stored.id}", headers=as_admin)
    assert revoked.status_code == 204
    assert get_users(token).status_code == 401


def test_a_token_of_one_organisation_never_touches_another(
    app, client, session, org, hr, other_org, other_org_admin, as_other_org_admin
):
    their_department = factories.make_department(session, other_org, "Deres butikk")
    their_person = factories.make_user(session, other_org, "deres", department=their_department)
    rival_hr = scim_client(app, issue_token(client, as_other_org_admin))
    mine = hr.create(ScimUser(user_name="min", display_name="Min"))
    my_group = hr.create(Group(display_name="Min butikk"))

    listed = hr.query(ScimUser)
    assert their_person.id not in {r.id for r in listed.resources}
    assert (
        hr.query(
            Group, query_parameters=SearchRequest(filter='displayName eq "Deres butikk"')
        ).total_results
        == 0
    )
    for call in (
        lambda: hr.query(ScimUser, their_person.id),
        lambda: hr.query(Group, their_department.id),
        lambda: hr.replace(ScimUser(id=their_person.id, user_name="hacked", active=False)),
        lambda: hr.delete(ScimUser, their_person.id),
        lambda: hr.modify(Group, their_department.id, add_members([mine.id])),
        lambda: rival_hr.query(ScimUser, mine.id),
        lambda: rival_hr.modify(Group, my_group.id, add_members([their_person.id])),
    ):
        with pytest.raises(SCIMException) as refused:
            call()
        assert refused.value.to_error().status == 404
    # Their person cannot be pulled into my department.
    with pytest.raises(SCIMException) as refused:
        hr.modify(Group, my_group.id, add_members([their_person.id]))
    assert refused.value.to_error().status == 400
    # The same userName may exist in both organisations.
    assert rival_hr.create(ScimUser(user_name="min", display_name="Deres Min")).id != mine.id
    session.expire_all()
    unchanged = session.get(Account, their_person.id)
    assert (unchanged.username, unchanged.active, unchanged.department_id) == (
        "deres",
        True,
        their_department.id,
    )


def test_deleting_a_group_is_refused_and_keeps_the_department(app, client, session, hr):
    group = hr.create(Group(display_name="Sesong"))
    with pytest.raises(SCIMException) as refused:
        hr.delete(Group, group.id)
    error = refused.value.to_error()
    assert (error.status, error.scim_type) == (400, "mutability")
    assert session.get(Department, group.id) is not None


def test_a_group_name_taken_by_a_sibling_is_a_scim_uniqueness_error(app, session, org, hr):
    # Department names are unique among siblings: SCIM answers 409 `uniqueness`, never a 500.
    first = hr.create(Group(display_name="Sesong"))
    for call in (
        lambda: hr.create(Group(display_name="sesong")),
        lambda: hr.replace(
            Group(id=hr.create(Group(display_name="Kasse")).id, display_name="SESONG")
        ),
    ):
        with pytest.raises(SCIMException) as refused:
            call()
        error = refused.value.to_error()
        assert (error.status, error.scim_type) == (409, "uniqueness")
    assert session.get(Department, first.id).name == "Sesong"


def test_two_creations_of_one_username_at_once_end_in_one_409(
    app, client, session, hr, monkeypatch
):
    """The check before the insert can be passed by both of two racing requests; the second
    insert then meets the unique constraint, which must answer 409, never 500."""
    from app.identity import scim as scim_service

    hr.create(ScimUser(user_name="samtidig", display_name="Først"))
    monkeypatch.setattr(scim_service, "_check_username", lambda *args, **kwargs: None)
    with pytest.raises(SCIMException) as taken:
        hr.create(ScimUser(user_name="samtidig", display_name="Andre"))
    assert (taken.value.to_error().status, taken.value.to_error().scim_type) == (409, "uniqueness")
    assert (
        session.scalar(
            select(func.count()).select_from(Account).where(Account.username == "samtidig")
        )
        == 1
    )


def test_a_person_moved_by_scim_sees_their_new_department_at_once(
    app, client, session, org, module, learner, colleague, warehouse, hr, frozen_clock
):
    """What a process caches of a signed-in person (their department) is dropped when SCIM
    moves them: their department board is the new one on the very next request."""
    from tests.gamification.play import play

    picker = factories.make_user(session, org, "picker", department=warehouse)
    play(client, session, module, auth_headers(session, colleague))
    play(client, session, module, auth_headers(session, picker))
    as_moved = auth_headers(session, learner)

    def department_board():
        response = client.get(
            "/api/v1/leaderboards/users",
            query_string={"scope": "department", "window": "week"},
            headers=as_moved,
        )
        assert response.status_code == 200, response.json
        return {entry["user"]["id"] for entry in response.json["entries"]}

    assert department_board() == {colleague.id}  # and the login is now cached
    hr.modify(Group, warehouse.id, add_members([learner.id]))
    assert department_board() == {picker.id}


@pytest.mark.parametrize("resource", ["Users", "Groups"])
@pytest.mark.parametrize(
    "query", ["startIndex=99999999999999999999", "count=99999999999999999999", "startIndex=-9e99"]
)
def test_paging_numbers_beyond_what_sql_takes_are_a_scim_400(client, as_admin, resource, query):
    token = issue_token(client, as_admin)
    response = client.get(
        f"/scim/v2/{resource}?{query}", headers={"Authorization": f"Bearer {token}"}
    )
    assert response.status_code == 400, response.get_data(as_text=True)
    assert response.json["scimType"] == "invalidValue"


@pytest.mark.parametrize("body", ["[" * 100_000 + "]" * 100_000, '{"userName": "\\ud800"}'])
def test_hostile_json_is_a_scim_invalid_syntax(client, as_admin, body):
    token = issue_token(client, as_admin)
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/scim+json"}
    response = client.post("/scim/v2/Users", data=body, headers=headers)
    assert response.status_code == 400, response.get_data(as_text=True)
    assert response.mimetype == "application/scim+json"
    assert response.json["scimType"] == "invalidSyntax"
