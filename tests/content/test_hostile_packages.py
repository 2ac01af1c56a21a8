"""Hostile module files are reported as bad files, over HTTP and by the CLI: nested 20 000
levels deep (PyYAML composes by recursion: it ended in a RecursionError, a 500 or a
traceback), or holding text the database cannot store (NUL, a lone surrogate: a 500)."""

from __future__ import annotations

import io
import zipfile

import pytest

from app.content.service import MAX_YAML_DEPTH, read_package_files

DEEP = {
    "flow": "[" * 20_000 + "]" * 20_000,
    "block": "- " * 20_000 + "x",
    "mapping": "{a: " * 20_000 + "1" + "}" * 20_000,
    "just_too_deep": "[" * (MAX_YAML_DEPTH + 1) + "]" * (MAX_YAML_DEPTH + 1),
}


@pytest.mark.parametrize("text", DEEP.values(), ids=DEEP.keys())
def test_a_deep_module_file_is_an_error_of_that_file(text):
    documents, errors = read_package_files({"modules/deep.yaml": text.encode()})
    assert documents == {}
    assert [e["file"] for e in errors] == ["modules/deep.yaml"]
    assert "nested deeper than" in errors[0]["message"]


def test_nesting_up_to_the_limit_is_read():
    text = "x: " + "[" * (MAX_YAML_DEPTH - 1) + "]" * (MAX_YAML_DEPTH - 1)
    documents, errors = read_package_files({"modules/fine.yaml": text.encode()})
    assert errors == [] and "modules/fine.yaml" in documents


def test_a_deep_package_over_http_is_a_4xx(client, as_editor):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("modules/deep.yaml", DEEP["flow"])
    response = client.post(
        "/api/v1/editor/packages",
        data=buffer.getvalue(),
        headers=as_editor,
        content_type="application/zip",
    )
    assert response.status_code in (200, 422), response.get_data(as_text=True)
    assert "nested deeper than" in response.get_data(as_text=True)


def test_a_deep_package_on_the_command_line_is_reported(app, tmp_path, org):
    (tmp_path / "modules").mkdir()
    (tmp_path / "modules" / "deep.yaml").write_text(DEEP["block"])
    result = app.test_cli_runner().invoke(
        args=["content", "import", str(tmp_path), "--org", "acme"]
    )
    assert result.exit_code != 0
    assert not isinstance(result.exception, RecursionError)
    assert "nested deeper than" in result.output


NUL_MODULE = """\
title: "Nul \\0 title"
cards:
  - kind: text
    body: "a\\ud800b"
questions:
  - kind: true_false
    prompt: Riktig?
    explanation: Fordi.
    choices:
      - {text: Ja, correct: true}
      - {text: Nei, correct: false}
"""


def test_unstorable_text_in_a_module_file_is_an_error_keyed_by_field():
    documents, errors = read_package_files({"modules/nul.yaml": NUL_MODULE.encode()})
    assert documents == {}
    assert {(e["file"], e["field"]) for e in errors} == {
        ("modules/nul.yaml", "title"),
        ("modules/nul.yaml", "cards[0].body"),
    }


def test_unstorable_text_in_a_package_over_http_is_a_4xx(client, as_editor):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("modules/nul.yaml", NUL_MODULE)
    response = client.post(
        "/api/v1/editor/packages",
        data=buffer.getvalue(),
        headers=as_editor,
        content_type="application/zip",
    )
    assert response.status_code in (200, 422), response.get_data(as_text=True)
    assert "NUL characters" in response.get_data(as_text=True)


def test_unstorable_text_on_the_command_line_is_reported(app, tmp_path, org):
    (tmp_path / "modules").mkdir()
    (tmp_path / "modules" / "nul.yaml").write_text(NUL_MODULE)
    result = app.test_cli_runner().invoke(
        args=["content", "import", str(tmp_path), "--org", "acme"]
    )
    assert result.exit_code != 0
    assert "NUL characters" in result.output
