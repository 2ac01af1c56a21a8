"""`/me/reviews`: today's spaced-review session and its answers."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView

from app import clock, db
from app.auth.guard import authenticated, current_user
from app.blueprints import Blueprint
from app.idempotency.service import idempotent
from app.languages import caller_locales
from app.openapi import errors
from app.pagination import PageArgsSchema
from app.reviews import schemas, service

blp = Blueprint("reviews", __name__, url_prefix="/api/v1/me", description="Spaced review")


@blp.route("/reviews")
class Reviews(MethodView):
    @authenticated(blp)
    @blp.arguments(PageArgsSchema(), location="query")
    @blp.response(200, schemas.ReviewPageSchema)
    @errors(blp, 422)
    def get(self, args: dict[str, Any]) -> Any:
        """Questions due for review, most overdue first, capped at today's short session.
        Empty (with `paused_until`) during a vacation hold."""
        return service.due_reviews(
            db.session(),
            user=current_user(),
            locales=caller_locales(),
            now=clock.now(),
            **args,
        )


@blp.route("/reviews/<question_id>/answers")
class ReviewAnswers(MethodView):
    @authenticated(blp)
    @idempotent(blp)
    @blp.arguments(schemas.ReviewAnswerInSchema())
    @blp.response(200, schemas.ReviewFeedbackSchema)
    @errors(blp, 404, 409, 422)
    def post(self, body: dict[str, Any], question_id: str) -> Any:
        """Answer a due review question: feedback, points, and when it comes back. Not on my
        schedule: 404; not due yet or paused: 409; a choice not of this question: 422."""
        return service.answer_review(
            db.session(),
            user=current_user(),
            question_id=question_id,
            choice_ids=body["choice_ids"],
            locales=caller_locales(),
            now=clock.now(),
        )
