"""Module reads: ETag/304 also for phones that get gzip, and per-language bodies."""

import gzip
import json

from tests import factories


def test_gzip_etag_from_a_phone_gives_304(client, module, as_learner):
    phone = {**as_learner, "Accept-Encoding": "gzip"}
    first = client.get(f"/api/v1/modules/{module.id}", headers=phone)
    assert first.status_code == 200
    assert first.headers["Content-Encoding"] == "gzip"
    body = json.loads(gzip.decompress(first.data))
    assert body["id"] == module.id and body["questions"]
    etag = first.headers["ETag"]

    again = client.get(f"/api/v1/modules/{module.id}", headers={**phone, "If-None-Match": etag})
    assert again.status_code == 304
    assert again.headers["ETag"] == etag
    assert again.data == b""


def test_plain_etag_gives_304_and_language_has_its_own(client, module, as_learner):
    nb = client.get(f"/api/v1/modules/{module.id}", headers=as_learner)
    en = client.get(f"/api/v1/modules/{module.id}", headers={**as_learner, "Accept-Language": "en"})
    assert nb.json["locale"] == "nb" and en.json["locale"] == "en"
    assert nb.headers["ETag"] != en.headers["ETag"]
    assert en.json["title"] != nb.json["title"]
    # A second read comes from the per-process cache and is the same.
    assert client.get(f"/api/v1/modules/{module.id}", headers=as_learner).json == nb.json

    cached = client.get(
        f"/api/v1/modules/{module.id}",
        headers={**as_learner, "If-None-Match": nb.headers["ETag"]},
    )
    assert cached.status_code == 304
    other_language = client.get(
        f"/api/v1/modules/{module.id}",
        headers={**as_learner, "Accept-Language": "en", "If-None-Match": nb.headers["ETag"]},
    )
    assert other_language.status_code == 200


def test_a_new_version_invalidates_the_etag(client, session, org, module, as_learner):
    before = client.get(f"/api/v1/modules/{module.id}", headers=as_learner)
    factories.publish_module(
        session, org, factories.module_document(title="Ny tittel"), module=module
    )
    after = client.get(
        f"/api/v1/modules/{module.id}",
        headers={**as_learner, "If-None-Match": before.headers["ETag"]},
    )
    assert after.status_code == 200
    assert after.json["title"] == "Ny tittel"
    assert after.headers["ETag"] != before.headers["ETag"]


def test_the_gzip_body_is_the_plain_body_compressed_with_its_own_etag(client, module, as_learner):
    url = f"/api/v1/modules/{module.id}"
    plain = client.get(url, headers={**as_learner, "Accept-Encoding": "identity"})
    zipped = client.get(url, headers={**as_learner, "Accept-Encoding": "gzip, deflate"})
    assert "Content-Encoding" not in plain.headers
    assert json.loads(gzip.decompress(zipped.data)) == plain.json
    assert zipped.headers["ETag"] != plain.headers["ETag"]  # two representations
    assert (
        "Accept-Encoding" in zipped.headers["Vary"] and "Accept-Encoding" in plain.headers["Vary"]
    )


def test_an_archived_module_is_gone_on_the_next_read(client, module, as_learner, as_editor):
    url = f"/api/v1/modules/{module.id}"
    assert client.get(url, headers=as_learner).status_code == 200  # now cached
    archived = client.post(f"/api/v1/editor/modules/{module.id}/archive", headers=as_editor)
    assert archived.status_code == 200, archived.json
    assert client.get(url, headers=as_learner).status_code == 404
