"""Devices, notification preferences, the inbox and managers' nudges."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView

from app import clock, db
from app.auth.guard import authenticated, current_user
from app.blueprints import Blueprint
from app.languages import caller_locale
from app.notifications import schemas, service
from app.openapi import errors
from app.pagination import page_schema

blp = Blueprint(
    "notifications", __name__, url_prefix="/api/v1", description="Devices, inbox and nudges"
)

NotificationPage = page_schema(schemas.NotificationSchema, "NotificationPage")


@blp.route("/me/devices/<installation_id>")
class DeviceByInstallation(MethodView):
    @authenticated(blp)
    @blp.arguments(schemas.DeviceRegisterSchema())
    @blp.response(200, schemas.DeviceSchema)
    @blp.alt_response(201, schema=schemas.DeviceSchema, description="A new installation")
    @errors(blp, 409)
    def put(self, body: dict[str, Any], installation_id: str) -> Any:
        """Register this installation's push token (201 when new).

        A token moves here from another installation of mine, or from another person's login
        on this same installation (a shared phone). A token that another person's other
        installation holds in this organisation: 409, theirs stays (ask the push service for
        a new token). Nothing of another person is ever removed by installation id alone.
        """
        device, created = service.register_device(
            db.session(),
            user=current_user(),
            installation_id=installation_id,
            now=clock.now(),
            **body,
        )
        db.session.commit()
        return device, 201 if created else 200

    @authenticated(blp)
    @blp.response(204)
    def delete(self, installation_id: str) -> None:
        """Stop pushes to this installation."""
        service.remove_device(db.session(), user=current_user(), installation_id=installation_id)
        db.session.commit()


@blp.route("/me/notification-preferences")
class Preferences(MethodView):
    @authenticated(blp)
    @blp.response(200, schemas.PreferencesSchema)
    def get(self) -> Any:
        """Which notification types are pushed to me; language and quiet hours are on /me."""
        return service.preferences(db.session(), user=current_user(), locale=caller_locale())

    @authenticated(blp)
    @blp.arguments(schemas.PreferencesPatchSchema())
    @blp.response(200, schemas.PreferencesSchema)
    def patch(self, body: dict[str, Any]) -> Any:
        """Turn pushes of some types on or off (they still reach the inbox)."""
        session = db.session()
        service.update_preferences(session, user=current_user(), types=body["types"])
        session.commit()
        return service.preferences(session, user=current_user(), locale=caller_locale())


@blp.route("/me/notifications")
class Inbox(MethodView):
    @authenticated(blp)
    @blp.arguments(schemas.InboxArgsSchema(), location="query")
    @blp.response(200, NotificationPage)
    def get(self, args: dict[str, Any]) -> Any:
        """My notifications, newest first, pushed or not (`unread=true` for unread only)."""
        return service.inbox(db.session(), user=current_user(), now=clock.now(), **args)


@blp.route("/me/notifications/<notification_id>/read")
class MarkRead(MethodView):
    @authenticated(blp)
    @blp.response(204)
    @errors(blp, 404)
    def post(self, notification_id: str) -> None:
        """Mark a notification read."""
        service.mark_read(
            db.session(), user=current_user(), notification_id=notification_id, now=clock.now()
        )
        db.session.commit()


@blp.route("/nudges")
class Nudges(MethodView):
    @authenticated(blp, "manager", "admin")
    @blp.arguments(schemas.NudgeSchema())
    @blp.response(202, schemas.NudgeResultSchema)
    @errors(blp, 404)
    def post(self, body: dict[str, Any]) -> Any:
        """Nudge people of departments I manage; pushed within their allowed hours, one a day."""
        result = service.send_nudge(db.session(), sender=current_user(), now=clock.now(), **body)
        db.session.commit()
        return result
