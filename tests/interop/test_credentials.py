"""Badges as Open Badges 3.0 credentials, checked as an outside verifier would: the issuer
profile and the JWKS fetched over HTTP without a login, the VC-JWT verified with another
JOSE library (python-jose; the app signs with PyJWT), the claims and the OB 3.0 data model."""

from __future__ import annotations

import dataclasses
from datetime import datetime
from typing import Any

import pytest
from jose import jwk as jose_jwk
from jose import jwt as jose_jwt
from sqlalchemy import select

from app.gamification import badges
from app.gamification.models import EarnedBadge
from app.interop.models import SigningKey
from tests import factories

VC2 = "https://www.w3.org/ns/credentials/v2"
OB3 = "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json"


def earn_first_module(client: Any, session: Any, headers: dict[str, str], module: Any) -> None:
    version = factories.current_version(session, module)
    attempt = client.post(f"/api/v1/modules/{module.id}/attempts", headers=headers).json
    for question_id, choice_ids in factories.correct_choices(version).items():
        client.post(
            f"/api/v1/attempts/{attempt['id']}/answers",
            json={"question_id": question_id, "choice_ids": choice_ids},
            headers=headers,
        )
    assert client.post(f"/api/v1/attempts/{attempt['id']}/complete", headers=headers).json[
        "new_badges"
    ]


def verify(client: Any, token: str, issuer_url: str) -> dict[str, Any]:
    """What a third party does: fetch the issuer's keys, check signature and claims."""
    api = issuer_url.split("/api/v1", 1)[1]
    issuer = client.get(f"/api/v1{api}")
    assert issuer.status_code == 200
    header = jose_jwt.get_unverified_header(token)
    jwks_url, kid = header["kid"].split("#")
    keys = client.get("/api/v1" + jwks_url.split("/api/v1", 1)[1]).json["keys"]
    key = next(k for k in keys if k["kid"] == kid)
    claims = jose_jwt.decode(
        token,
        jose_jwk.construct(key, key["alg"]).to_dict(),
        algorithms=[key["alg"]],
        issuer=issuer.json["id"],
        options={
            "verify_aud": False,
            "require_iss": True,
            "require_sub": True,
            "require_jti": True,
            "require_nbf": True,
        },
    )
    assert claims["iss"] == issuer.json["id"]
    return claims


def revoked(client: Any, credential: dict[str, Any]) -> bool:
    status = credential["credentialStatus"]
    assert status["type"] == "1EdTechRevocationList"
    listing = client.get("/api/v1" + status["id"].split("/api/v1", 1)[1]).json
    return any(entry["id"] == credential["id"] for entry in listing["revokedCredentials"])


@pytest.fixture
def earned(client: Any, session: Any, as_learner: Any, module: Any) -> dict[str, Any]:
    earn_first_module(client, session, as_learner, module)
    answer = client.get("/api/v1/me/badges/first_module/credential", headers=as_learner)
    assert answer.status_code == 200, answer.json
    return answer.json


def test_an_outside_verifier_accepts_the_credential(
    client: Any, session: Any, earned: dict[str, Any], learner: Any
) -> None:
    credential = earned["credential"]
    claims = verify(client, earned["jwt"], credential["issuer"]["id"])

    assert claims["sub"] == credential["credentialSubject"]["id"]
    assert claims["jti"] == credential["id"]
    assert claims["nbf"] == int(datetime.fromisoformat(credential["validFrom"]).timestamp())
    assert claims["vc"] == credential
    assert {k: claims[k] for k in credential} == credential
    assert not revoked(client, credential)


def test_the_credential_follows_the_open_badges_3_data_model(
    client: Any, earned: dict[str, Any], learner: Any
) -> None:
    credential = earned["credential"]
    # AchievementCredential (OpenBadgeCredential): required properties and their types.
    assert credential["@context"][0] == VC2 and OB3 in credential["@context"]
    assert {"VerifiableCredential", "OpenBadgeCredential"} <= set(credential["type"])
    assert credential["id"].startswith("http")
    assert datetime.fromisoformat(credential["validFrom"]).tzinfo is not None
    assert "issuanceDate" not in credential and "validUntil" not in credential
    issuer = credential["issuer"]
    assert "Profile" in issuer["type"] and issuer["name"] == "Acme Dagligvare"
    subject = credential["credentialSubject"]
    assert "AchievementSubject" in subject["type"]
    assert subject["id"].startswith("urn:uuid:")
    (identifier,) = subject["identifier"]
    assert identifier["type"] == "IdentityObject" and identifier["hashed"] is True
    assert identifier["identityHash"].startswith("sha256$") and identifier["salt"]
    assert identifier["identityType"] == "systemId"
    achievement = subject["achievement"]
    assert "Achievement" in achievement["type"]
    assert achievement["id"].endswith("/achievements/first_module")
    assert achievement["name"] and achievement["description"]
    assert achievement["criteria"]["narrative"]
    assert achievement["image"]["type"] == "Image"
    assert achievement["image"]["id"].startswith("data:image/svg+xml;base64,")
    assert credential["credentialSchema"][0]["type"] == "1EdTechJsonSchemaValidator2019"
    text = str(credential) + earned["jwt"]
    assert learner.username not in text and learner.display_name not in text
    assert learner.id not in str(credential)  # only its salted hash

    profile = client.get("/api/v1/orgs/acme/issuer").json
    assert profile["@context"] == [VC2, OB3]
    assert profile["id"] == issuer["id"] and "Profile" in profile["type"]


def test_the_jwt_alone_on_request(client: Any, earned: dict[str, Any], as_learner: Any) -> None:
    answer = client.get(
        "/api/v1/me/badges/first_module/credential",
        headers={**as_learner, "Accept": "application/vc+jwt"},
    )
    assert answer.status_code == 200
    assert answer.mimetype == "application/vc+jwt"
    assert jose_jwt.get_unverified_header(answer.get_data(as_text=True))["typ"] == "vc+jwt"
    verify(client, answer.get_data(as_text=True), earned["credential"]["issuer"]["id"])


def test_revoked_by_an_admin_then_verification_fails(
    client: Any,
    session: Any,
    earned: dict[str, Any],
    learner: Any,
    as_admin: Any,
    as_learner: Any,
    as_other_org_admin: Any,
) -> None:
    row = session.scalars(
        select(EarnedBadge).where(
            EarnedBadge.user_id == learner.id, EarnedBadge.code == "first_module"
        )
    ).one()
    url = f"/api/v1/admin/credentials/{row.id}/revoke"
    assert client.post(url, json={}, headers=as_other_org_admin).status_code == 404
    assert client.post(url, json={}, headers=as_learner).status_code == 403
    done = client.post(url, json={"reason": "Granted by mistake"}, headers=as_admin)
    assert done.status_code == 200
    assert done.json["credential_id"] == earned["credential"]["id"]

    assert revoked(client, earned["credential"])  # the verifier's status check now fails
    listing = client.get("/api/v1/orgs/acme/revocations").json
    assert listing["revokedCredentials"][0]["revocationReason"] == "Granted by mistake"
    again = client.get("/api/v1/me/badges/first_module/credential", headers=as_learner)
    assert again.status_code == 410


def test_rotated_keys_still_verify_what_they_signed(
    client: Any, session: Any, earned: dict[str, Any], as_admin: Any, as_learner: Any, org: Any
) -> None:
    old_kid = jose_jwt.get_unverified_header(earned["jwt"])["kid"]
    rotated = client.post("/api/v1/admin/credentials/keys/rotate", headers=as_admin)
    assert rotated.status_code == 200
    new = client.get("/api/v1/me/badges/first_module/credential", headers=as_learner).json
    assert jose_jwt.get_unverified_header(new["jwt"])["kid"] != old_kid
    assert new["credential"] == earned["credential"]  # the same credential, signed anew
    issuer_id = earned["credential"]["issuer"]["id"]
    verify(client, earned["jwt"], issuer_id)
    verify(client, new["jwt"], issuer_id)
    assert len(client.get("/api/v1/orgs/acme/jwks.json").json["keys"]) == 2
    for key in session.scalars(select(SigningKey).where(SigningKey.org_id == org.id)):
        assert "PRIVATE KEY" not in key.private_key_encrypted
        assert "d" not in key.public_jwk  # never the private part


def test_rs256_keys_verify_too(
    client: Any, session: Any, app: Any, as_learner: Any, module: Any, monkeypatch: Any
) -> None:
    monkeypatch.setitem(app.config, "BADGE_KEY_ALGORITHM", "RS256")
    earn_first_module(client, session, as_learner, module)
    answer = client.get("/api/v1/me/badges/first_module/credential", headers=as_learner).json
    assert jose_jwt.get_unverified_header(answer["jwt"])["alg"] == "RS256"
    verify(client, answer["jwt"], answer["credential"]["issuer"]["id"])


def test_a_badge_tied_to_a_requirement_expires_with_it(
    client: Any, session: Any, as_learner: Any, module: Any, monkeypatch: Any
) -> None:
    @dataclasses.dataclass(frozen=True)
    class RequirementBadge(badges.Badge):
        valid_months: int = 12

    tied = RequirementBadge(**dataclasses.asdict(badges.BY_CODE["first_module"]))
    monkeypatch.setitem(badges.BY_CODE, "first_module", tied)
    earn_first_module(client, session, as_learner, module)
    answer = client.get("/api/v1/me/badges/first_module/credential", headers=as_learner).json
    credential = answer["credential"]
    valid_from = datetime.fromisoformat(credential["validFrom"])
    valid_until = datetime.fromisoformat(credential["validUntil"])
    assert (valid_until.year - valid_from.year, valid_until.month) == (1, valid_from.month)
    claims = verify(client, answer["jwt"], credential["issuer"]["id"])
    assert claims["exp"] == int(valid_until.timestamp())


def test_not_earned_unknown_and_no_login(client: Any, as_learner: Any, org: Any) -> None:
    assert (
        client.get("/api/v1/me/badges/first_module/credential", headers=as_learner).status_code
        == 404
    )
    assert client.get("/api/v1/me/badges/nope/credential", headers=as_learner).status_code == 404
    assert client.get("/api/v1/me/badges/first_module/credential").status_code == 401
    assert client.get("/api/v1/orgs/no-such-org/issuer").status_code == 404
    assert client.get("/api/v1/orgs/no-such-org/jwks.json").status_code == 404
    assert client.get("/api/v1/orgs/acme/jwks.json").json == {"keys": []}


def test_secrets_are_re_encrypted_with_a_new_key(
    app: Any, session: Any, earned: dict[str, Any], client: Any, monkeypatch: Any
) -> None:
    from cryptography.fernet import Fernet

    from app.interop import encryption

    old = Fernet.generate_key().decode()
    monkeypatch.setitem(app.config, "ENCRYPTION_KEYS", old)
    # Secrets written under the derived development key move to `old` first.
    for key in session.scalars(select(SigningKey)):
        key.private_key_encrypted = Fernet(old.encode()).encrypt(b"x").decode()
    new = Fernet.generate_key().decode()
    monkeypatch.setitem(app.config, "ENCRYPTION_KEYS", f"{new},{old}")
    result = app.test_cli_runner().invoke(args=["interop", "rotate-secrets"])
    assert result.exit_code == 0, result.output
    monkeypatch.setitem(app.config, "ENCRYPTION_KEYS", new)  # the old key is gone
    for key in session.scalars(select(SigningKey)):
        assert encryption.decrypt(key.private_key_encrypted) == "x"
