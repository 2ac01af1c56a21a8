"""Texts users read follow the same language choice as content (the user's setting, else
Accept-Language, else the organisation's: nb, nn, en): lock reasons and what to pass first,
ledger reasons, notification-preference descriptions, weekly path titles (the anonymous name
on boards: tests/leaderboards)."""

from __future__ import annotations

from datetime import timedelta

from tests import factories
from tests.learning.test_sync import offline_event
from tests.paths.conftest import finish, make_modules, schedule


def test_a_locked_module_says_why_and_what_first_in_the_callers_language(
    client, session, org, learner, frozen_clock, as_editor, as_learner
):
    first, second = make_modules(session, org, 2)
    schedule(client, as_editor, [first, second], sequential=True, title="Uke 48")
    english = {**as_learner, "Accept-Language": "en"}
    nynorsk = {**as_learner, "Accept-Language": "nn"}

    [path] = client.get("/api/v1/paths/current", headers=as_learner).json["paths"]
    opened, locked = path["modules"]
    assert (opened["locked_reason"], opened["requires"]) == (None, [])
    assert locked["status"] == "locked"
    assert locked["locked_reason"] == "Fullfør dette først: «Modul 1» i «Uke 48»."
    assert locked["requires"] == [{"id": first.id, "title": "Modul 1"}]
    [path] = client.get("/api/v1/paths/current", headers=english).json["paths"]
    assert path["modules"][1]["locked_reason"] == "Finish first: “The cold chain” in “Uke 48”."
    assert path["modules"][1]["requires"] == [{"id": first.id, "title": "The cold chain"}]
    [path] = client.get("/api/v1/paths/current", headers=nynorsk).json["paths"]
    assert path["modules"][1]["locked_reason"].startswith("Fullfør dette først")

    # Starting it says the same, in the same language.
    for headers, sentence in (
        (as_learner, "Fullfør dette først: «Modul 1» i «Uke 48»."),
        (english, "Finish first: “The cold chain” in “Uke 48”."),
    ):
        refused = client.post(f"/api/v1/modules/{second.id}/attempts", headers=headers)
        assert refused.status_code == 409
        assert (refused.json["reason"], refused.json["detail"]) == (sentence, sentence)
        assert [m["id"] for m in refused.json["requires"]] == [first.id]
    # So does the module list, and an offline attempt on it.
    items = {m["id"]: m for m in client.get("/api/v1/modules", headers=english).json["items"]}
    assert items[second.id]["locked_reason"] == "Finish first: “The cold chain” in “Uke 48”."
    assert items[second.id]["requires"] == [{"id": first.id, "title": "The cold chain"}]
    assert (items[first.id]["locked_reason"], items[first.id]["requires"]) == (None, [])
    event = offline_event(factories.current_version(session, second), completed_at=frozen_clock())
    [result] = client.post("/api/v1/sync", json={"events": [event]}, headers=english).json[
        "results"
    ]
    assert result["errors"] == {"module_id": ["Finish first: “The cold chain” in “Uke 48”."]}

    finish(client, session, as_learner, first)
    [path] = client.get("/api/v1/paths/current", headers=as_learner).json["paths"]
    assert (path["modules"][1]["locked_reason"], path["modules"][1]["requires"]) == (None, [])


def test_prerequisites_show_in_the_module_list_before_the_learner_taps(
    client, session, org, learner, frozen_clock, as_learner
):
    basics = factories.publish_module(session, org, factories.module_document(title="Grunnkurs"))
    advanced = factories.publish_module(
        session, org, factories.module_document(title="Videregående"), prerequisite_ids=[basics.id]
    )
    items = {m["id"]: m for m in client.get("/api/v1/modules", headers=as_learner).json["items"]}
    assert items[advanced.id]["requires"] == [{"id": basics.id, "title": "Grunnkurs"}]
    assert items[advanced.id]["locked_reason"] == "Fullfør dette først: «Grunnkurs»."
    assert items[basics.id]["requires"] == []
    finish(client, session, as_learner, basics)
    items = {m["id"]: m for m in client.get("/api/v1/modules", headers=as_learner).json["items"]}
    assert (items[advanced.id]["locked_reason"], items[advanced.id]["requires"]) == (None, [])


def test_ledger_reasons_are_in_the_callers_language(
    client, session, org, learner, frozen_clock, module, as_learner
):
    finish(client, session, as_learner, module)
    nb = {i["reason"] for i in client.get("/api/v1/me/points", headers=as_learner).json["items"]}
    assert nb == {
        "Riktig svar",
        "Bonus for riktig på første forsøk",
        "Modul fullført",
        "Alt riktig",
    }
    en = client.get("/api/v1/me/points", headers={**as_learner, "Accept-Language": "en"}).json
    assert {i["reason"] for i in en["items"]} == {
        "Correct answer",
        "First-try bonus",
        "Module completed",
        "Perfect score",
    }
    client.patch("/api/v1/me", json={"locale": "nn"}, headers=as_learner)
    nn = {i["reason"] for i in client.get("/api/v1/me/points", headers=as_learner).json["items"]}
    assert "Rett svar" in nn and "Alt rett" in nn


def test_notification_preferences_are_described_in_the_callers_language(
    client, learner, as_learner
):
    def described(headers: dict[str, str]) -> dict[str, str]:
        body = client.get("/api/v1/me/notification-preferences", headers=headers).json
        return {kind["type"]: kind["description"] for kind in body["types"]}

    assert described(as_learner)["nudge"] == "Lederen din sender en påminnelse."
    english = described({**as_learner, "Accept-Language": "en"})
    assert english["nudge"] == "Your manager sends a reminder."
    assert described({**as_learner, "Accept-Language": "nn"})["nudge"].startswith("Leiaren")


def test_weekly_path_titles_are_translatable(
    client, session, org, learner, frozen_clock, as_editor, as_learner
):
    first, second = make_modules(session, org, 2)
    created = schedule(
        client,
        as_editor,
        [first, second],
        title="Uke 48: kjølekjeden",
        sequential=True,
        translations={"en": {"title": "Week 48: the cold chain"}},
    )
    assert created["translations"] == {"en": {"title": "Week 48: the cold chain"}}
    english = {**as_learner, "Accept-Language": "en"}

    def title(headers: dict[str, str]) -> str:
        return str(client.get("/api/v1/paths/current", headers=headers).json["paths"][0]["title"])

    assert title(as_learner) == "Uke 48: kjølekjeden"
    assert title(english) == "Week 48: the cold chain"
    assert title({**as_learner, "Accept-Language": "nn"}) == "Uke 48: kjølekjeden"
    [path] = client.get("/api/v1/paths/current", headers=english).json["paths"]
    assert "“Week 48: the cold chain”" in path["modules"][1]["locked_reason"]

    for bad in ({"de": {"title": "Woche 48"}}, {"en": {"title": ""}}, {"en": {}}):
        refused = client.post(
            "/api/v1/editor/paths",
            json={
                "week": "2026-W48",
                "title": "Uke 48",
                "modules": [{"module_id": first.id}],
                "translations": bad,
            },
            headers=as_editor,
        )
        assert refused.status_code == 422, bad
        assert any(key.startswith("translations") for key in refused.json["errors"]), bad


def test_offline_rejection_speaks_the_users_own_language(
    client, session, org, learner, frozen_clock, as_editor, as_learner
):
    first, second = make_modules(session, org, 2)
    schedule(client, as_editor, [first, second], sequential=True, title="Uke 48")
    client.patch("/api/v1/me", json={"locale": "en"}, headers=as_learner)
    when = frozen_clock() - timedelta(minutes=5)
    event = offline_event(factories.current_version(session, second), completed_at=when)
    [result] = client.post("/api/v1/sync", json={"events": [event]}, headers=as_learner).json[
        "results"
    ]
    assert (result["reason"], result["errors"]["module_id"]) == (
        "module_locked",
        ["Finish first: “The cold chain” in “Uke 48”."],
    )


def test_the_weekly_path_push_names_the_path_in_each_users_language(
    client, session, org, learner, colleague, frozen_clock, as_editor
):
    from app.notifications import messages, providers

    [module] = make_modules(session, org, 1)
    created = schedule(
        client, as_editor, [module], title="Uke 48", translations={"en": {"title": "Week 48"}}
    )
    [group] = [
        g
        for g in providers.weekly_path_recipients(session, now=frozen_clock())
        if g.key == created["id"]
    ]
    assert group.payload["titles"] == {"en": "Week 48"}
    _, _, english = messages.render("path_start", "en", group.payload)
    _, _, bokmal = messages.render("path_start", "nb", group.payload)
    assert english.startswith("Week 48") and bokmal.startswith("Uke 48")
