"""If-Match and If-None-Match from clients that accept compression (requests, browsers, OkHttp).

flask-compress appends the coding to the ETag of a body it compressed (`"<tag>:zstd"`); the
client sends back what it got. The tag names the draft revision the editor saw, whichever
encoding carried it.
"""

from __future__ import annotations

import pytest

from tests import factories
from tests.editor.conftest import API

# What Python `requests` with brotli and zstandard installed, and browsers, send.
COMPRESSING = {"Accept-Encoding": "gzip, br, zstd"}


def _compressed_etag(client, headers, url):
    got = client.get(url, headers={**headers, **COMPRESSING})
    assert got.status_code == 200
    assert got.headers.get("Content-Encoding") in ("zstd", "br", "gzip")
    etag = got.headers["ETag"]
    assert ":" in etag  # the coding the body came in is part of the tag
    return etag


def test_a_draft_loaded_compressed_can_be_saved_with_the_etag_it_came_with(
    client, as_editor, draft
):
    url = f"{API}/modules/{draft['id']}"
    etag = _compressed_etag(client, as_editor, url)
    saved = client.put(
        url,
        json=factories.module_document(title="Lagret"),
        headers={**as_editor, **COMPRESSING, "If-Match": etag},
    )
    assert saved.status_code == 200, saved.get_json()
    # The answer to the save is compressed too; its tag saves the next edit.
    again = client.put(
        url,
        json=factories.module_document(title="Lagret igjen"),
        headers={**as_editor, **COMPRESSING, "If-Match": saved.headers["ETag"]},
    )
    assert again.status_code == 200, again.get_json()
    assert client.get(url, headers=as_editor).json["revision"] == 3


@pytest.mark.parametrize("coding", ["gzip", "br", "zstd", "deflate"])
def test_every_coding_suffix_names_the_same_draft(client, as_editor, draft, coding):
    url = f"{API}/modules/{draft['id']}"
    tag = draft["etag"].strip('"')
    saved = client.put(
        url,
        json=factories.module_document(title=coding),
        headers={**as_editor, "If-Match": f'"{tag}:{coding}"'},
    )
    assert saved.status_code == 200, saved.get_json()


def test_a_stale_compressed_etag_is_still_412(client, as_editor, draft):
    url = f"{API}/modules/{draft['id']}"
    etag = _compressed_etag(client, as_editor, url)
    first = client.put(
        url, json=factories.module_document(title="A"), headers={**as_editor, "If-Match": etag}
    )
    assert first.status_code == 200
    stale = client.put(
        url, json=factories.module_document(title="B"), headers={**as_editor, "If-Match": etag}
    )
    assert stale.status_code == 412
    # An unknown suffix is not a coding: it does not name the draft.
    current = first.headers["ETag"].strip('"')
    odd = client.put(
        url,
        json=factories.module_document(title="C"),
        headers={**as_editor, "If-Match": f'"{current}:other"'},
    )
    assert odd.status_code == 412


def test_a_weak_etag_never_satisfies_if_match(client, as_editor, draft):
    # If-Match compares strongly (RFC 9110 13.1.1), so a tag a proxy weakened is refused.
    response = client.put(
        f"{API}/modules/{draft['id']}",
        json=factories.module_document(title="W"),
        headers={**as_editor, "If-Match": f"W/{draft['etag']}"},
    )
    assert response.status_code == 412


def test_publish_accepts_the_compressed_etag(client, as_editor, draft):
    url = f"{API}/modules/{draft['id']}"
    etag = _compressed_etag(client, as_editor, url)
    published = client.post(
        f"{url}/publish", headers={**as_editor, **COMPRESSING, "If-Match": etag}
    )
    assert published.status_code == 200, published.get_json()
    assert published.json["version"] == 1


def test_a_draft_read_with_a_compressed_or_weak_etag_is_304(client, as_editor, draft):
    url = f"{API}/modules/{draft['id']}"
    etag = _compressed_etag(client, as_editor, url)
    for sent in (etag, f"W/{etag}", draft["etag"], "*"):
        again = client.get(url, headers={**as_editor, **COMPRESSING, "If-None-Match": sent})
        assert again.status_code == 304, sent
    assert client.get(url, headers={**as_editor, "If-None-Match": '"nope:zstd"'}).status_code == 200


def test_a_module_read_by_a_client_without_gzip_is_304_with_its_tag(client, module, as_learner):
    # br and zstd only: flask-compress compresses the plain body and suffixes its tag.
    url = f"/api/v1/modules/{module.id}"
    headers = {**as_learner, "Accept-Encoding": "br, zstd"}
    first = client.get(url, headers=headers)
    assert first.headers.get("Content-Encoding") in ("br", "zstd")
    etag = first.headers["ETag"]
    for sent in (etag, f"W/{etag}"):
        again = client.get(url, headers={**headers, "If-None-Match": sent})
        assert again.status_code == 304, sent
