"""Item analysis: read-only aggregates over attempts and answers for editors."""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

from sqlalchemy import Float, String, case, cast, func, select
from sqlalchemy.orm import Session

from app.content.models import ModuleVersion
from app.editor.service import get_module
from app.errors import NotFound
from app.learning.models import Answer, Attempt


def module_stats(
    session: Session, *, org_id: str, module_id: str, version: int | None
) -> dict[str, Any]:
    """How learners did on one version (default: the current one): per question and overall.

    Question ids belong to one version (each publish mints new ones), so the numbers are per
    version; `versions` lists the totals of every version for comparison.
    """
    module = get_module(session, org_id=org_id, module_id=module_id)
    rows = list(
        session.scalars(
            select(ModuleVersion)
            .where(ModuleVersion.module_id == module.id)
            .order_by(ModuleVersion.version)
        )
    )
    if not rows:
        raise NotFound("The module has never been published, so nobody has answered it.")
    wanted = version or module.current_version or rows[-1].version
    chosen = next((row for row in rows if row.version == wanted), None)
    if chosen is None:
        raise NotFound(f"The module has no version {wanted}.")
    totals = _attempt_totals(session, [row.id for row in rows])
    return {
        "module_id": module.id,
        "version": chosen.version,
        **totals.get(chosen.id, _no_attempts()),
        "questions": _question_stats(session, chosen),
        "versions": [
            {
                "version": row.version,
                "published_at": row.published_at,
                **totals.get(row.id, _no_attempts()),
            }
            for row in rows
        ],
    }


def _as_number(flag: Any) -> Any:
    """1 for true, 0 for false (PostgreSQL has no boolean-to-float cast)."""
    return case((flag.is_(True), 1.0), else_=0.0)


def _no_attempts() -> dict[str, Any]:
    return {"attempts": 0, "completions": 0, "average_score": None, "pass_rate": None}


def _attempt_totals(session: Session, version_ids: list[str]) -> dict[str, dict[str, Any]]:
    completed = Attempt.completed_at.is_not(None)
    stmt = (
        select(
            Attempt.module_version_id,
            func.count(),
            func.count(Attempt.completed_at),
            func.avg(
                cast(Attempt.score_correct, Float)
                / cast(func.nullif(Attempt.questions_total, 0), Float)
            ).filter(completed),
            func.avg(_as_number(Attempt.passed)).filter(completed),
        )
        .where(Attempt.module_version_id.in_(version_ids))
        .group_by(Attempt.module_version_id)
    )
    return {
        version_id: {
            "attempts": attempts,
            "completions": completions,
            "average_score": round(float(average), 4) if average is not None else None,
            "pass_rate": round(float(passed), 4) if passed is not None else None,
        }
        for version_id, attempts, completions, average, passed in session.execute(stmt)
    }


def _question_stats(session: Session, version: ModuleVersion) -> list[dict[str, Any]]:
    in_version = Answer.attempt_id.in_(
        select(Attempt.id).where(Attempt.module_version_id == version.id)
    )
    counts = {
        question_id: (answers, int(correct or 0))
        for question_id, answers, correct in session.execute(
            select(Answer.question_id, func.count(), func.sum(_as_number(Answer.correct)))
            .where(in_version)
            .group_by(Answer.question_id)
        )
    }
    # Wrong answers grouped by the exact set chosen (few distinct sets), then split per choice.
    wrong: dict[str, Counter[str]] = {}
    for question_id, chosen, times in session.execute(
        select(Answer.question_id, cast(Answer.choice_ids, String), func.count())
        .where(in_version, Answer.correct.is_(False))
        .group_by(Answer.question_id, cast(Answer.choice_ids, String))
    ):
        for choice_id in _choice_ids(chosen):
            wrong.setdefault(question_id, Counter())[choice_id] += times
    result = []
    for position, question in enumerate(version.content["questions"]):
        answers, correct = counts.get(question["id"], (0, 0))
        incorrect_choices = {c["id"]: c for c in question["choices"] if not c["correct"]}
        tally = Counter(
            {
                k: v
                for k, v in wrong.get(question["id"], Counter()).items()
                if k in incorrect_choices
            }
        )
        most = None
        if tally:
            # Ties go to the choice listed first, so the answer is stable.
            order = {c["id"]: n for n, c in enumerate(question["choices"])}
            choice_id, times = min(tally.items(), key=lambda item: (-item[1], order[item[0]]))
            most = {
                "choice_id": choice_id,
                "text": incorrect_choices[choice_id]["text"],
                "count": times,
            }
        result.append(
            {
                "question_id": question["id"],
                "position": position,
                "prompt": question["prompt"],
                "answers": answers,
                "correct": correct,
                "correct_rate": round(correct / answers, 4) if answers else None,
                "most_chosen_wrong_choice": most,
            }
        )
    return result


def _choice_ids(serialised: Any) -> list[str]:
    if isinstance(serialised, list):
        return [str(item) for item in serialised]
    try:
        value = json.loads(serialised)
    except (TypeError, ValueError):
        return []
    return [str(item) for item in value] if isinstance(value, list) else []
