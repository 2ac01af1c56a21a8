"""Reading modules: listing with my progress, paging, language, ETags."""

from __future__ import annotations

from tests import factories
from tests.conftest import auth_headers


def test_the_list_pages_with_a_cursor(client, session, org, as_learner):
    ids = [
        factories.publish_module(session, org, factories.module_document(title=f"Modul {n}")).id
        for n in range(5)
    ]
    first = client.get("/api/v1/modules?limit=2", headers=as_learner)
    assert first.status_code == 200
    assert [m["id"] for m in first.json["items"]] == ids[:2]
    second = client.get(
        f"/api/v1/modules?limit=2&cursor={first.json['next_cursor']}", headers=as_learner
    )
    third = client.get(
        f"/api/v1/modules?limit=2&cursor={second.json['next_cursor']}", headers=as_learner
    )
    assert [m["id"] for m in second.json["items"]] == ids[2:4]
    assert [m["id"] for m in third.json["items"]] == ids[4:]
    assert third.json["next_cursor"] is None


def test_bad_paging_parameters_are_422_keyed_by_parameter(client, as_learner):
    for query, parameter in (
        ("limit=0", "limit"),
        ("limit=101", "limit"),
        ("cursor=%%%", "cursor"),
    ):
        response = client.get(f"/api/v1/modules?{query}", headers=as_learner)
        assert response.status_code == 422, query
        assert parameter in response.json["errors"]


def test_the_list_shows_my_progress(client, phone, module):
    def status() -> str:
        return client.get("/api/v1/modules", headers=phone.headers).json["items"][0]["status"]

    assert status() == "not_started"
    attempt = phone.start(module.id).json
    assert status() == "in_progress"
    phone.complete(attempt["id"])
    assert status() == "completed"


def test_the_summary_has_the_contract_fields(client, module, as_learner):
    item = client.get("/api/v1/modules", headers=as_learner).json["items"][0]
    assert {"id", "title", "summary", "topic", "estimated_minutes", "locale", "status"} <= set(item)
    assert item["title"] == "Kjølekjeden"
    assert item["locale"] == "nb"


def test_a_module_reads_cards_then_questions_in_the_learners_language(client, module, as_learner):
    nb = client.get(f"/api/v1/modules/{module.id}", headers=as_learner)
    assert nb.status_code == 200
    assert nb.json["version"] == 1
    assert nb.json["locale"] == "nb"
    assert [c["kind"] for c in nb.json["cards"]] == ["text", "text"]
    assert [q["kind"] for q in nb.json["questions"]] == [
        "single_choice",
        "true_false",
        "multiple_choice",
    ]
    assert "<strong>0–4 °C</strong>" in nb.json["cards"][0]["body_html"]

    en = client.get(f"/api/v1/modules/{module.id}", headers={**as_learner, "Accept-Language": "en"})
    assert en.json["locale"] == "en"
    assert en.json["title"] == "The cold chain"
    assert en.json["questions"][0]["prompt"] == "How cold must chilled goods be?"
    # The same ids in every language: an answer given in English grades the same.
    assert [q["id"] for q in en.json["questions"]] == [q["id"] for q in nb.json["questions"]]


def test_the_users_own_language_overrides_accept_language(client, session, learner, module):
    learner.locale = "en"
    session.flush()
    headers = auth_headers(session, learner, **{"Accept-Language": "nb"})
    assert client.get(f"/api/v1/modules/{module.id}", headers=headers).json["locale"] == "en"


def test_an_unknown_language_falls_back_to_the_modules_own(client, module, as_learner):
    response = client.get(
        f"/api/v1/modules/{module.id}", headers={**as_learner, "Accept-Language": "sv"}
    )
    assert response.json["locale"] == "nb"


def test_module_reads_are_cached_by_etag(client, session, org, module, as_learner):
    first = client.get(f"/api/v1/modules/{module.id}", headers=as_learner)
    etag = first.headers["ETag"]
    assert etag
    cached = client.get(
        f"/api/v1/modules/{module.id}", headers={**as_learner, "If-None-Match": etag}
    )
    assert cached.status_code == 304
    assert cached.get_data() == b""

    english = client.get(
        f"/api/v1/modules/{module.id}",
        headers={**as_learner, "If-None-Match": etag, "Accept-Language": "en"},
    )
    assert english.status_code == 200  # another language is another representation

    factories.publish_module(
        session, org, factories.module_document(title="Ny versjon"), module=module
    )
    changed = client.get(
        f"/api/v1/modules/{module.id}", headers={**as_learner, "If-None-Match": etag}
    )
    assert changed.status_code == 200
    assert changed.json["version"] == 2


def test_markdown_is_served_safe(client, session, org, as_learner):
    hostile = factories.module_document(
        cards=[
            {
                "kind": "text",
                "body": 'Hei <script>alert(1)</script> <img src=x onerror="alert(1)">',
            }
        ],
        translations={},
    )
    module = factories.publish_module(session, org, hostile)
    card = client.get(f"/api/v1/modules/{module.id}", headers=as_learner).json["cards"][0]
    assert "<script" not in card["body_html"]
    assert 'href="javascript' not in card["body_html"]
    assert "<img" not in card["body_html"]  # raw HTML shows as inert text, never as a tag
    assert "<script" not in card["body"] and "<img" not in card["body"]


def test_an_unknown_module_is_404(client, as_learner):
    response = client.get("/api/v1/modules/01NOSUCHMODULE000000000000", headers=as_learner)
    assert response.status_code == 404
    assert response.content_type == "application/problem+json"
