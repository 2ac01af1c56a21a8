"""The shipped content keeps the house rules and gives no answer pattern away."""

from __future__ import annotations

from pathlib import Path

from app.content.document import validate_document
from app.content.quality import package_warnings
from app.content.service import read_package_folder, read_package_files

CONTENT = Path(__file__).resolve().parents[2] / "content"


def shipped_documents() -> dict[str, dict]:
    raw, errors = read_package_files(read_package_folder(str(CONTENT)))
    assert errors == []
    documents = {}
    for path, document in raw.items():
        clean, problems = validate_document(document, default_locale="nb")
        assert problems == {}, (path, problems)
        documents[path] = clean
    return documents


def test_the_shipped_content_has_no_warnings():
    found = [(w.file, w.field, w.message) for w in package_warnings(shipped_documents())]
    assert found == []

