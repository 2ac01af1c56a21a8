"""The command line: `demo seed`, `org create`, `content import`."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from sqlalchemy import func, select, text

from app.content.models import Module, ModuleVersion
from app.demo.seed import DEMO_PASSWORD, USERS
from app.orgs.models import Department, DepartmentManager, Organization, User

CONTENT = Path(__file__).resolve().parents[2] / "content"
SHIPPED = len(list((CONTENT / "modules").glob("*.yaml")))


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


def count(session, model, *where):
    return session.scalar(select(func.count()).select_from(model).where(*where))


def demo_org(session):
    session.expire_all()
    return session.scalar(select(Organization).where(Organization.slug == "demo"))


def login(client, organization, username, password):
    return client.post(
        "/api/v1/auth/login",
        json={"organization": organization, "username": username, "password": password},
    )


# --- demo seed ---------------------------------------------------------------------------


def test_demo_seed_creates_the_demo_and_is_idempotent(runner, session, client):
    first = runner.invoke(args=["demo", "seed"])
    assert first.exit_code == 0, first.output
    org = demo_org(session)
    assert org is not None
    users = count(session, User, User.org_id == org.id)
    departments = count(session, Department, Department.org_id == org.id)
    managers = count(session, DepartmentManager)
    assert users == len(USERS)
    assert departments >= 3

    second = runner.invoke(args=["demo", "seed"])
    assert second.exit_code == 0, second.output
    assert "nothing new" in second.output
    assert count(session, Organization, Organization.slug == "demo") == 1
    assert count(session, User, User.org_id == org.id) == users
    assert count(session, Department, Department.org_id == org.id) == departments
    assert count(session, DepartmentManager) == managers

    # Every demo user can log in with the documented password.
    for username, _name, _department, roles in USERS:
        response = login(client, "demo", username, DEMO_PASSWORD)
        assert response.status_code == 200, (username, response.json)
        assert sorted(response.json["user"]["roles"]) == sorted(roles)


def test_demo_managers_manage_their_store(runner, session):
    assert runner.invoke(args=["demo", "seed"]).exit_code == 0
    org = demo_org(session)
    managers = session.scalars(
        select(User)
        .join(DepartmentManager, DepartmentManager.user_id == User.id)
        .where(User.org_id == org.id)
    ).all()
    assert managers and all(user.has_role("manager") for user in managers)


def test_demo_seed_is_refused_in_production(app, runner, session, monkeypatch):
    monkeypatch.setitem(app.config, "ENV_NAME", "production")
    result = runner.invoke(args=["demo", "seed"])
    assert result.exit_code != 0
    assert "production" in result.output.lower()
    assert demo_org(session) is None


# --- org create --------------------------------------------------------------------------


def test_org_create_makes_an_org_whose_admin_can_log_in(runner, session, client):
    result = runner.invoke(
        args=[
            "org",
            "create",
            "coop-nord",
            "--name",
            "Coop Nord",
            "--admin",
            "boss",
            "--password",
            "a secret password",
        ]
    )
    assert result.exit_code == 0, result.output
    session.expire_all()
    org = session.scalar(select(Organization).where(Organization.slug == "coop-nord"))
    assert org is not None and org.name == "Coop Nord"
    response = login(client, "coop-nord", "boss", "a secret password")
    assert response.status_code == 200, response.json
    assert response.json["user"]["roles"] == ["admin"]
    headers = {"Authorization": f"Bearer {response.json['access_token']}"}
    assert client.get("/api/v1/admin/departments", headers=headers).status_code == 200


def test_org_create_with_a_taken_slug_fails_cleanly(runner, session, org):
    result = runner.invoke(
        args=["org", "create", "acme", "--name", "Again", "--admin", "x", "--password", "pw123456"]
    )
    assert result.exit_code != 0
    assert "already exists" in result.output
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert count(session, Organization, Organization.slug == "acme") == 1
    session.refresh(org)
    assert org.name == "Acme Dagligvare"


@pytest.mark.parametrize(
    ("args", "field"),
    [
        (["Bad Slug!", "--name", "X", "--admin", "boss", "--password", "long enough"], "slug"),
        (["x" * 64, "--name", "X", "--admin", "boss", "--password", "long enough"], "slug"),
        (["ok-slug", "--name", "X", "--admin", "has space", "--password", "long enough"], "admin"),
        (["ok-slug", "--name", "X", "--admin", "boss", "--password", "short"], "password"),
        (["ok-slug", "--name", "", "--admin", "boss", "--password", "long enough"], "name"),
        (
            [
                "ok-slug",
                "--name",
                "X",
                "--admin",
                "boss",
                "--password",
                "long enough",
                "--timezone",
                "Mars/Olympus",
            ],
            "timezone",
        ),
    ],
)
def test_org_create_refuses_bad_values_cleanly(runner, session, args, field):
    result = runner.invoke(args=["org", "create", *args])
    assert result.exit_code != 0
    assert f"{field}:" in result.output
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert count(session, Organization) == 0


def test_org_create_needs_its_options(runner):
    result = runner.invoke(args=["org", "create", "x"])
    assert result.exit_code != 0
    assert "--name" in result.output


# --- content import ----------------------------------------------------------------------


def test_content_import_brings_in_the_shipped_modules_once(runner, session):
    assert SHIPPED == 27
    first = runner.invoke(args=["content", "import", str(CONTENT)])
    assert first.exit_code == 0, first.output
    assert f"{SHIPPED} created, 0 updated, 0 unchanged." in first.output
    assert "warning" not in first.output
    org = demo_org(session)
    assert count(session, Module, Module.org_id == org.id) == SHIPPED
    versions = count(session, ModuleVersion)

    second = runner.invoke(args=["content", "import", str(CONTENT)])
    assert second.exit_code == 0, second.output
    assert f"0 created, 0 updated, {SHIPPED} unchanged" in second.output
    assert count(session, Module, Module.org_id == org.id) == SHIPPED
    assert count(session, ModuleVersion) == versions


def test_content_import_into_a_named_org(runner, session, org):
    result = runner.invoke(args=["content", "import", str(CONTENT), "--org", "acme"])
    assert result.exit_code == 0, result.output
    assert count(session, Module, Module.org_id == org.id) == SHIPPED
    assert demo_org(session) is None


def test_content_import_never_seeds_the_demo_in_production(app, runner, session, monkeypatch):
    monkeypatch.setitem(app.config, "ENV_NAME", "production")
    result = runner.invoke(args=["content", "import", str(CONTENT)])
    assert result.exit_code != 0
    assert "demo" in result.output
    assert demo_org(session) is None
    assert count(session, User) == 0
    assert count(session, Module) == 0


def test_content_import_into_an_unknown_org_fails(runner):
    result = runner.invoke(args=["content", "import", str(CONTENT), "--org", "nope"])
    assert result.exit_code != 0
    assert "nope" in result.output


def test_a_broken_module_file_is_reported_and_nothing_is_imported(runner, session, tmp_path):
    package = tmp_path / "package"
    shutil.copytree(CONTENT / "modules", package / "modules")
    broken = package / "modules" / "hand-hygiene.yaml"
    source = broken.read_text(encoding="utf-8")
    assert "estimated_minutes:" in source
    lines = [
        "estimated_minutes: lots" if line.startswith("estimated_minutes:") else line
        for line in source.splitlines()
    ]
    broken.write_text("\n".join(lines) + "\n", encoding="utf-8")

    result = runner.invoke(args=["content", "import", str(package)])
    assert result.exit_code != 0
    assert "hand-hygiene.yaml" in result.output
    assert "estimated_minutes" in result.output
    assert "nothing was imported" in result.output
    assert count(session, Module) == 0
    assert count(session, ModuleVersion) == 0


def test_warnings_are_printed_and_the_import_goes_ahead(runner, session, tmp_path):
    package = tmp_path / "package"
    shutil.copytree(CONTENT / "modules", package / "modules")
    module = package / "modules" / "hand-hygiene.yaml"
    source = module.read_text(encoding="utf-8")
    assert "\ntopic: food-safety\n" in source
    module.write_text(source.replace("\ntopic: food-safety\n", "\ntopic: baking\n"), "utf-8")

    result = runner.invoke(args=["content", "import", str(package)])
    assert result.exit_code == 0, result.output
    expected = "warning: modules/hand-hygiene.yaml topic: Should be one of: food-safety,"
    assert expected in result.output
    assert f"{SHIPPED} created, 0 updated, 0 unchanged, 1 warning(s)." in result.output
    assert count(session, Module) == SHIPPED


def test_a_file_that_is_not_yaml_is_reported(runner, session, tmp_path):
    (tmp_path / "modules").mkdir()
    (tmp_path / "modules" / "bad.yaml").write_text("key: [unclosed\n", encoding="utf-8")
    result = runner.invoke(args=["content", "import", str(tmp_path)])
    assert result.exit_code != 0
    assert "bad.yaml" in result.output
    assert count(session, Module) == 0


# --- commits inside the test transaction -------------------------------------------------


def test_a_command_that_commits_stays_inside_the_test_transaction(runner, session, engine):
    """`db.session.commit()` in a command releases a savepoint only: the outer test
    transaction still holds the data, so other connections never see it."""
    result = runner.invoke(
        args=[
            "org",
            "create",
            "probe-org",
            "--name",
            "Probe",
            "--admin",
            "a",
            "--password",
            "pw123456",
        ]
    )
    assert result.exit_code == 0, result.output
    assert count(session, Organization, Organization.slug == "probe-org") == 1
    with engine.connect() as outside:
        seen = outside.execute(
            text("SELECT count(*) FROM organizations WHERE slug = 'probe-org'")
        ).scalar_one()
    assert seen == 0


def test_the_previous_tests_commits_were_rolled_back(session):
    """Runs after the tests above (file order): nothing they committed is left."""
    for slug in ("probe-org", "coop-nord", "demo"):
        assert count(session, Organization, Organization.slug == slug) == 0
    assert count(session, Module) == 0


def test_content_import_leaves_an_entry_in_each_modules_history(runner, session, tmp_path):
    from app.editor.models import ModuleEvent

    package = tmp_path / "package"
    shutil.copytree(CONTENT / "modules", package / "modules")
    assert runner.invoke(args=["content", "import", str(package)]).exit_code == 0
    org = demo_org(session)
    events = session.scalars(select(ModuleEvent).where(ModuleEvent.org_id == org.id)).all()
    assert len(events) == SHIPPED
    assert {(e.action, e.version, e.actor_id) for e in events} == {("imported", 1, None)}

    changed = package / "modules" / "hand-hygiene.yaml"
    source = changed.read_text(encoding="utf-8")
    assert "summary: Hvorfor og hvordan" in source
    changed.write_text(source.replace("summary: Hvorfor og hvordan", "summary: Slik"), "utf-8")
    second = runner.invoke(args=["content", "import", str(package)])
    assert "1 updated" in second.output, second.output
    module = session.scalar(select(Module).where(Module.key == "hand-hygiene"))
    history = session.scalars(
        select(ModuleEvent.version).where(ModuleEvent.module_id == module.id)
    ).all()
    assert sorted(history) == [1, 2]
