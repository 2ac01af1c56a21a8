"""xAPI statements as built, checked against Ralph's xAPI 1.0.3 models (pydantic)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from ralph.models.xapi.base.statements import BaseXapiStatement
from ralph.models.xapi.base.unnested_objects import BaseXapiActivityInteractionDefinition
from ralph.models.xapi.concepts.verbs.adl_vocabulary import AnsweredVerb

from app.interop import statements

IRIS = statements.Iris("https://learn.example.org/")
WHO = statements.Who("01JUSER0000000000000000000", "01JORG", "acme", "Acme", "01JDEPT")
MODULE = statements.ModuleFacts("01JMOD", 2, "Kjølekjeden", "nb", "01JPATH", "Uke 48")
QUESTION = statements.QuestionFacts(
    "q1", "Hvor kaldt?", (("c1", "0–4 °C"), ("c2", "8 °C"), ("c3", "12 °C")), ("c1",)
)
AT = datetime(2026, 11, 25, 9, 30, tzinfo=UTC)


def made() -> list[dict[str, Any]]:
    new = statements.new_statement_id
    return [
        statements.attempted(IRIS, WHO, MODULE, attempt_id="01JATT", at=AT, statement_id=new()),
        statements.answered(
            IRIS,
            WHO,
            MODULE,
            QUESTION,
            attempt_id="01JATT",
            choice_ids=["c2"],
            correct=False,
            at=AT + timedelta(seconds=20),
            statement_id=new(),
        ),
        *statements.completed_and_graded(
            IRIS,
            WHO,
            MODULE,
            attempt_id="01JATT",
            correct=2,
            total=3,
            passed=False,
            started_at=AT,
            completed_at=AT + timedelta(minutes=2, seconds=5),
            statement_ids=(new(), new()),
        ),
        statements.earned(
            IRIS,
            WHO,
            code="first_module",
            title="Første modul",
            description="Fullfør din første modul.",
            locale="nb",
            at=AT,
            statement_id=new(),
        ),
    ]


@pytest.mark.parametrize("index", range(5))
def test_every_statement_is_valid_xapi(index: int) -> None:
    statement = made()[index]
    parsed = BaseXapiStatement.model_validate(statement)
    assert str(parsed.id) == statement["id"]
    assert parsed.version == "1.0.3"
    assert parsed.actor.account.name == WHO.user_id  # type: ignore[union-attr]
    assert str(parsed.actor.account.homePage) == "https://learn.example.org/orgs/acme"  # type: ignore[union-attr]


def test_answered_is_a_choice_interaction_with_its_correct_response() -> None:
    answered = made()[1]
    AnsweredVerb.model_validate(answered["verb"])
    definition = BaseXapiActivityInteractionDefinition.model_validate(
        answered["object"]["definition"]
    )
    assert definition.interactionType == "choice"
    assert definition.correctResponsesPattern == ["c1"]
    assert answered["result"] == {"response": "c2", "success": False}
    assert answered["context"]["contextActivities"]["parent"][0]["id"] == (
        "https://learn.example.org/xapi/acme/modules/01JMOD"
    )


def test_module_statements_name_the_weekly_path_and_the_organisation() -> None:
    attempted = made()[0]
    context = attempted["context"]
    assert context["contextActivities"]["parent"][0]["id"] == (
        "https://learn.example.org/xapi/acme/paths/01JPATH"
    )
    assert context["extensions"]["https://learn.example.org/xapi/extensions/department"] == {
        "id": "01JDEPT"
    }
    assert context["registration"] == statements.registration("01JATT")


def test_graded_statements_carry_score_and_duration() -> None:
    completed, failed = made()[2:4]
    assert completed["verb"]["id"].endswith("/completed")
    assert failed["verb"]["id"].endswith("/failed")
    assert failed["result"]["score"]["scaled"] == 0.6667
    assert failed["result"]["duration"] == "PT2M5S"
    assert failed["result"]["success"] is False


@given(st.text(alphabet="0123456789ABCDEFGHJKMNPQRSTVWXYZ", min_size=26, max_size=26))
def test_registration_is_a_stable_uuid_of_the_attempt(attempt_id: str) -> None:
    first = statements.registration(attempt_id)
    assert first == statements.registration(attempt_id)
    assert uuid.UUID(first).version == 5


@given(st.floats(min_value=0, max_value=400_000, allow_nan=False))
def test_durations_are_iso_8601(seconds: float) -> None:
    text = statements.iso_duration(timedelta(seconds=seconds))
    assert text.startswith("PT") and text.endswith("S")
    BaseXapiStatement.model_validate(
        {**made()[2], "result": {"duration": text, "completion": True}}
    )
