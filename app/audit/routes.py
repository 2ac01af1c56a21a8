"""`GET /admin/audit`: the organisation's audit trail for its admins."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView

from app import db
from app.audit import schemas, service
from app.auth.guard import authenticated, current_principal
from app.blueprints import Blueprint
from app.openapi import errors
from app.pagination import page_schema

blp = Blueprint("audit", __name__, url_prefix="/api/v1/admin/audit", description="Audit trail")

AuditPage = page_schema(schemas.AuditEventSchema, "AuditEventPage")


@blp.route("")
class AuditTrail(MethodView):
    @authenticated(blp, "admin")
    @blp.arguments(schemas.AuditArgsSchema(), location="query")
    @blp.response(200, AuditPage)
    @errors(blp, 422)
    def get(self, args: dict[str, Any]) -> Any:
        """Recorded acts (exports, erasures), newest first; `action=` or `actor_id=` narrows."""
        return service.list_events(db.session(), org_id=current_principal().org_id, **args)
