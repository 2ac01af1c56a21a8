"""The preview is the learner's shape; hostile Markdown is neutralised on the way out."""

from __future__ import annotations

from html.parser import HTMLParser

import pytest

from tests import factories
from tests.editor.conftest import API, create

HOSTILE = [
    "<script>alert(1)</script>",
    '<img src="x" onerror="alert(1)">',
    '<a href="javascript:alert(1)">klikk</a>',
    '<iframe src="https://evil.example"></iframe>',
    "<svg onload=alert(1)>",
    '<p style="background:url(javascript:alert(1))">x</p>',
    '[lenke](https://example.com "tittel") og **fet**',
]


class _Elements(HTMLParser):
    """The real elements of an HTML fragment (escaped text is not an element)."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.elements: list[tuple[str, dict[str, str | None]]] = []
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        self.elements.append((tag, dict(attrs)))


def _assert_safe_html(html: str) -> None:
    for tag, attrs in _Elements(html).elements:
        assert tag not in ("script", "iframe", "svg", "style", "object", "embed"), html
        assert not any(name.startswith("on") for name in attrs), html
        assert "style" not in attrs, html
        for name in ("href", "src"):
            if attrs.get(name):
                assert attrs[name].startswith(("https:", "http:", "mailto:")), html


def _strip_ids(view):
    view = dict(view)
    view.pop("id")
    view.pop("warnings", None)  # the editor's alone
    view["cards"] = [{k: v for k, v in c.items() if k != "id"} for c in view["cards"]]
    view["questions"] = [
        {
            **{k: v for k, v in q.items() if k not in ("id", "choices")},
            "choices": [c["text"] for c in q["choices"]],
        }
        for q in view["questions"]
    ]
    return view


def test_preview_is_what_learners_get_after_publishing(client, as_editor, as_learner, draft):
    preview = client.get(f"{API}/modules/{draft['id']}/preview", headers=as_editor)
    assert preview.status_code == 200
    assert preview.json["version"] == 1  # the number it will get
    client.post(f"{API}/modules/{draft['id']}/publish", headers=as_editor)
    learner = client.get(f"/api/v1/modules/{draft['id']}", headers=as_learner)
    assert set(preview.json) - {"warnings"} == set(learner.json)
    assert _strip_ids(preview.json) == _strip_ids(learner.json)


def test_preview_hides_answer_keys_and_explanations(client, as_editor, draft):
    preview = client.get(f"{API}/modules/{draft['id']}/preview", headers=as_editor).json
    for question in preview["questions"]:
        assert "explanation" not in question
        assert all(set(choice) == {"id", "text"} for choice in question["choices"])
    assert "correct" not in str(preview)


def test_preview_in_a_translation(client, as_editor, draft):
    english = client.get(f"{API}/modules/{draft['id']}/preview?locale=en", headers=as_editor)
    assert english.json["title"] == "The cold chain"
    assert english.json["locale"] == "en"
    header = client.get(
        f"{API}/modules/{draft['id']}/preview", headers={**as_editor, "Accept-Language": "en"}
    )
    assert header.json["title"] == "The cold chain"
    assert (
        client.get(f"{API}/modules/{draft['id']}/preview?locale=xx", headers=as_editor).status_code
        == 422
    )


def test_preview_shows_unpublished_edits(client, as_editor, draft):
    client.post(f"{API}/modules/{draft['id']}/publish", headers=as_editor)
    etag = client.get(f"{API}/modules/{draft['id']}", headers=as_editor).headers["ETag"]
    client.put(
        f"{API}/modules/{draft['id']}",
        json=factories.module_document(title="Neste versjon"),
        headers={**as_editor, "If-Match": etag},
    )
    preview = client.get(f"{API}/modules/{draft['id']}/preview", headers=as_editor).json
    assert preview["title"] == "Neste versjon" and preview["version"] == 2


@pytest.mark.parametrize("body", HOSTILE)
def test_hostile_markdown_is_neutralised_for_learners(client, as_editor, as_learner, body):
    document = factories.module_document()
    document["cards"][0]["body"] = f"Før {body} etter"
    created = create(client, as_editor, document).json["id"]
    for view in (
        client.get(f"{API}/modules/{created}/preview", headers=as_editor).json,
        (
            client.post(f"{API}/modules/{created}/publish", headers=as_editor)
            and client.get(f"/api/v1/modules/{created}", headers=as_learner).json
        ),
    ):
        card = view["cards"][0]
        _assert_safe_html(card["body_html"])
        assert "<" not in card["body"]  # raw HTML in the Markdown source is made inert
        assert "Før" in card["body"] and "etter" in card["body"]


def test_safe_markdown_still_renders(client, as_editor):
    document = factories.module_document()
    document["cards"][0]["body"] = "**Fet** og [lenke](https://mattilsynet.no) < 4 °C"
    created = create(client, as_editor, document).json["id"]
    card = client.get(f"{API}/modules/{created}/preview", headers=as_editor).json["cards"][0]
    assert "<strong>Fet</strong>" in card["body_html"]
    assert 'href="https://mattilsynet.no"' in card["body_html"]
    assert 'rel="noopener noreferrer nofollow"' in card["body_html"]
    assert "&lt; 4 °C" in card["body_html"]
