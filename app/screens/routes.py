"""`/screens`: managers create, list and revoke their stores' TV screens."""

from __future__ import annotations

from typing import Any

from flask import url_for
from flask.views import MethodView

from app import db
from app.auth.guard import authenticated, current_user
from app.blueprints import Blueprint
from app.openapi import errors
from app.pagination import PageArgsSchema, page_schema
from app.screens import schemas, service

blp = Blueprint("screens", __name__, url_prefix="/api/v1/screens", description="Store screens")

ScreenPage = page_schema(schemas.ScreenSchema, "ScreenPage")


@blp.route("")
class Screens(MethodView):
    @authenticated(blp, "manager", "admin")
    @blp.arguments(PageArgsSchema(), location="query")
    @blp.response(200, ScreenPage)
    @errors(blp, 422)
    def get(self, args: dict[str, Any]) -> Any:
        """The screens of the departments I manage (every department, for an admin)."""
        return service.list_screens(db.session(), user=current_user(), **args)

    @authenticated(blp, "manager", "admin")
    @blp.arguments(schemas.ScreenInSchema())
    @blp.response(201, schemas.CreatedScreenSchema)
    @errors(blp, 404, 422)
    def post(self, body: dict[str, Any]) -> Any:
        """A screen for a department I manage; `url` is its secret link, shown only here."""
        created = service.create_screen(db.session(), user=current_user(), **body)
        db.session.commit()
        screen = created.screen
        return {
            "id": screen.id,
            "name": screen.name,
            "department_id": screen.department_id,
            "created_at": screen.created_at,
            "url": url_for("screen_pages.page", token=created.token, _external=True),
        }


@blp.route("/<screen_id>")
class ScreenById(MethodView):
    @authenticated(blp, "manager", "admin")
    @blp.response(204)
    @errors(blp, 404)
    def delete(self, screen_id: str) -> None:
        """Revoke a screen: its link stops working at once."""
        service.delete_screen(db.session(), user=current_user(), screen_id=screen_id)
        db.session.commit()
