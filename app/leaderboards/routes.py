"""`GET /leaderboards/users` and `GET /leaderboards/departments`.

Board reads are among the most frequent requests, so they take the caller's cached facts
(no query) and serve bodies rendered, dumped and gzipped once while those facts are equal:
the schemas below document the body, and the service builds exactly that shape (tests
compare the two).
"""

from __future__ import annotations

from typing import Any

from flask.views import MethodView

from app import clock, db
from app.auth.guard import authenticated, current_principal
from app.blueprints import Blueprint
from app.languages import caller_locale
from app.leaderboards import schemas, service
from app.openapi import errors
from app.rendered import RenderedBodies

blp = Blueprint(
    "leaderboards", __name__, url_prefix="/api/v1/leaderboards", description="Leaderboards"
)


# Each viewer's users board, kept while its facts are equal (the board as remembered from
# Redis, the names shown, the viewer): a learner or a screen rereads it far more often than
# it changes. The departments board likewise, per department of the viewer.
_user_boards = RenderedBodies()
_department_boards = RenderedBodies()


def _finish() -> None:
    """Commit what a read may have written (a repair clears its marker), if anything ran."""
    session = db.session()
    if session.in_transaction():
        session.commit()


@blp.route("/users")
class UserBoard(MethodView):
    @authenticated(blp)
    @blp.arguments(schemas.UserBoardArgsSchema(), location="query")
    @blp.response(200, schemas.UserBoardSchema)
    @errors(blp, 403, 404, 422)
    def get(self, args: dict[str, Any]) -> Any:
        """Top learners of my department or organisation, and my own place."""
        viewer = current_principal()
        locale = caller_locale()
        board = service.user_board_facts(
            db.session(), viewer=viewer, now=clock.now(), locale=locale, **args
        )
        _finish()
        key = (viewer.id, locale, *sorted(args.items()))
        return _user_boards.response(key, board, lambda: service.render_user_board(board))


@blp.route("/departments")
class DepartmentBoard(MethodView):
    @authenticated(blp)
    @blp.arguments(schemas.DepartmentBoardArgsSchema(), location="query")
    @blp.response(200, schemas.DepartmentBoardSchema)
    @errors(blp, 404, 422)
    def get(self, args: dict[str, Any]) -> Any:
        """Every competing department (the lowest ones, or a department's sub-departments,
        each counting everything below it) by total points or points per active member,
        those without points last; and my department."""
        viewer = current_principal()
        board = service.department_board_facts(db.session(), viewer=viewer, now=clock.now(), **args)
        _finish()
        # The body shows the viewer's department, nothing else of the viewer.
        key = (viewer.department_id, *sorted(args.items()))
        return _department_boards.response(
            key, board, lambda: service.render_department_board(board)
        )
