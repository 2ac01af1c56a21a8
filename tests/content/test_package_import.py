"""Importing content packages: the shipped content, idempotency, versions, all-or-nothing."""

from __future__ import annotations

from pathlib import Path

import yaml
from sqlalchemy import func, select

from app import clock
from app.content.models import Module, ModuleVersion
from app.content.service import import_package, read_package_folder
from app.media.storage import LocalMediaStorage

CONTENT = Path(__file__).resolve().parents[2] / "content"


def run_import(session, org, files, tmp_path):
    return import_package(
        session,
        org=org,
        files=files,
        storage=LocalMediaStorage(str(tmp_path / "media")),
        imported_by=None,
        now=clock.now(),
    )


def test_the_shipped_content_imports_cleanly(session, org, tmp_path):
    files = read_package_folder(str(CONTENT))
    report = run_import(session, org, files, tmp_path)
    assert report.errors == []
    module_files = [p for p in files if p.startswith("modules/")]
    assert len(report.created) == len(module_files) >= 8
    versions = session.scalars(
        select(ModuleVersion)
        .join(Module, Module.id == ModuleVersion.module_id)
        .where(Module.org_id == org.id)
    ).all()
    for version in versions:
        assert 3 <= len(version.content["questions"]) <= 5, version.title
        assert "en" in version.content["translations"], version.title
        assert version.locale == "nb"


def test_prerequisites_resolve_to_module_ids(session, org, tmp_path):
    run_import(session, org, read_package_folder(str(CONTENT)), tmp_path)
    modules = {m.key: m for m in session.scalars(select(Module).where(Module.org_id == org.id))}
    deviations = session.get(ModuleVersion, modules["cold-chain-deviations"].current_version_id)
    assert deviations.prerequisites == [modules["cold-chain-receiving"].id]


def test_reimporting_unchanged_files_changes_nothing(session, org, tmp_path):
    files = read_package_folder(str(CONTENT))
    run_import(session, org, files, tmp_path)
    before = session.scalar(select(func.count()).select_from(ModuleVersion))
    again = run_import(session, org, files, tmp_path)
    assert again.created == again.updated == []
    assert len(again.unchanged) == len([p for p in files if p.startswith("modules/")])
    assert session.scalar(select(func.count()).select_from(ModuleVersion)) == before


def test_a_changed_module_becomes_a_new_version(session, org, tmp_path):
    files = read_package_folder(str(CONTENT))
    run_import(session, org, files, tmp_path)
    document = yaml.safe_load(files["modules/hand-hygiene.yaml"])
    document["estimated_minutes"] = 4
    files["modules/hand-hygiene.yaml"] = yaml.safe_dump(document, allow_unicode=True).encode()
    report = run_import(session, org, files, tmp_path)
    assert report.updated == ["hand-hygiene"]
    module = session.scalar(
        select(Module).where(Module.org_id == org.id, Module.key == "hand-hygiene")
    )
    assert module.current_version == 2


def test_a_bad_file_is_reported_by_file_and_field_and_nothing_is_imported(session, org, tmp_path):
    files = read_package_folder(str(CONTENT))
    document = yaml.safe_load(files["modules/date-labels.yaml"])
    document["questions"][0]["choices"] = [
        {"text": "Bare én", "correct": False},
        {"text": "To", "correct": False},
    ]
    files["modules/date-labels.yaml"] = yaml.safe_dump(document, allow_unicode=True).encode()
    files["modules/broken.yaml"] = b"title: [unclosed"
    files["modules/latin1.yaml"] = "title: Bl\xe5b\xe6r".encode("latin-1")
    report = run_import(session, org, files, tmp_path)
    problems = {(e["file"], e["field"]) for e in report.errors}
    assert ("modules/date-labels.yaml", "questions[0].choices") in problems
    assert ("modules/broken.yaml", None) in problems
    assert ("modules/latin1.yaml", None) in problems
    assert report.created == []
    session.flush()
    assert (
        session.scalar(select(func.count()).select_from(Module).where(Module.org_id == org.id)) == 0
    )


def test_an_unknown_prerequisite_is_an_error(session, org, tmp_path):
    files = read_package_folder(str(CONTENT))
    document = yaml.safe_load(files["modules/date-labels.yaml"])
    document["prerequisites"] = ["no-such-module"]
    files["modules/date-labels.yaml"] = yaml.safe_dump(document, allow_unicode=True).encode()
    report = run_import(session, org, files, tmp_path)
    assert {
        "file": "modules/date-labels.yaml",
        "field": "prerequisites[0]",
    }.items() <= report.errors[0].items()


def test_modules_belong_to_the_importing_organisation_only(session, org, other_org, tmp_path):
    files = read_package_folder(str(CONTENT))
    run_import(session, org, files, tmp_path)
    report = run_import(session, other_org, files, tmp_path)
    assert report.unchanged == []  # the other organisation gets its own modules
    owners = session.execute(select(Module.org_id, func.count()).group_by(Module.org_id)).all()
    assert dict(owners)[org.id] == dict(owners)[other_org.id]
