"""Only editors and admins use the editor API, and only on their own organisation's modules."""

from __future__ import annotations

import io

import pytest

from tests.editor.conftest import API, image_bytes

MODULE_ENDPOINTS = [
    ("get", "/modules/{id}"),
    ("put", "/modules/{id}"),
    ("post", "/modules/{id}/publish"),
    ("post", "/modules/{id}/archive"),
    ("post", "/modules/{id}/unarchive"),
    ("get", "/modules/{id}/versions"),
    ("get", "/modules/{id}/history"),
    ("get", "/modules/{id}/preview"),
    ("get", "/modules/{id}/export"),
    ("get", "/modules/{id}/stats"),
]
ALL_ENDPOINTS = [
    ("get", "/modules"),
    ("post", "/modules"),
    ("post", "/packages"),
    ("post", "/media"),
    ("get", "/media"),
    *MODULE_ENDPOINTS,
]


def call(client, method, path, headers):
    kwargs: dict = {"json": {"title": "x"}} if method in ("post", "put") else {}
    if path == "/media":
        kwargs = {"data": {"file": (io.BytesIO(image_bytes()), "a.png")}}
    return getattr(client, method)(f"{API}{path}", headers={**headers, "If-Match": "*"}, **kwargs)


@pytest.mark.parametrize(("method", "path"), ALL_ENDPOINTS)
@pytest.mark.parametrize("who", ["as_learner", "as_manager"])
def test_learners_and_managers_get_403(client, request, module, method, path, who):
    headers = request.getfixturevalue(who)
    response = call(client, method, path.format(id=module.id), headers)
    assert response.status_code == 403, (method, path, response.json)
    assert response.mimetype == "application/problem+json"


@pytest.mark.parametrize(("method", "path"), ALL_ENDPOINTS)
def test_no_token_is_401(client, module, method, path):
    assert call(client, method, path.format(id=module.id), {}).status_code == 401


@pytest.mark.parametrize(("method", "path"), MODULE_ENDPOINTS)
def test_another_organisations_module_is_404(client, module, as_other_org_admin, method, path):
    response = call(client, method, path.format(id=module.id), as_other_org_admin)
    assert response.status_code == 404, (method, path, response.json)


@pytest.mark.parametrize(("method", "path"), MODULE_ENDPOINTS)
def test_unknown_module_is_404(client, as_editor, method, path):
    assert (
        call(client, method, path.format(id="01NOSUCHMODULE000000000000"), as_editor).status_code
        == 404
    )


def test_admin_may_edit(client, as_admin, module):
    assert client.get(f"{API}/modules/{module.id}", headers=as_admin).status_code == 200


def test_list_shows_only_the_own_organisation(client, as_other_org_admin, module):
    assert client.get(f"{API}/modules", headers=as_other_org_admin).json["items"] == []


def test_editor_endpoints_are_in_the_openapi_document(client):
    spec = client.get("/api/v1/openapi.json").json
    for path in (
        "/api/v1/editor/modules",
        "/api/v1/editor/modules/{module_id}",
        "/api/v1/editor/modules/{module_id}/publish",
        "/api/v1/editor/packages",
        "/api/v1/editor/media",
        "/api/v1/editor/modules/{module_id}/stats",
    ):
        assert path in spec["paths"], path
