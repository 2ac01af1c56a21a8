"""`GET /leaderboards/users` and `GET /leaderboards/departments`."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView
from flask_smorest import Blueprint

from app import clock, db
from app.auth.guard import authenticated, current_user
from app.leaderboards import schemas, service
from app.openapi import errors

blp = Blueprint(
    "leaderboards", __name__, url_prefix="/api/v1/leaderboards", description="Leaderboards"
)


@blp.route("/users")
class UserBoard(MethodView):
    @authenticated(blp)
    @blp.arguments(schemas.UserBoardArgsSchema, location="query")
    @blp.response(200, schemas.UserBoardSchema)
    @errors(blp, 403, 404, 422)
    def get(self, args: dict[str, Any]) -> Any:
        """Top learners of my department or organisation, and my own place."""
        board = service.user_board(db.session(), viewer=current_user(), now=clock.now(), **args)
        db.session.commit()  # a repair on read clears its marker
        return board


@blp.route("/departments")
class DepartmentBoard(MethodView):
    @authenticated(blp)
    @blp.arguments(schemas.DepartmentBoardArgsSchema, location="query")
    @blp.response(200, schemas.DepartmentBoardSchema)
    @errors(blp, 422)
    def get(self, args: dict[str, Any]) -> Any:
        """Departments by total points or points per active member, and my department."""
        board = service.department_board(
            db.session(), viewer=current_user(), now=clock.now(), **args
        )
        db.session.commit()
        return board
