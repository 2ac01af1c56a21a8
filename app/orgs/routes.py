"""Admin endpoints: departments and users of the caller's organisation."""

from __future__ import annotations

from typing import Any

from flask import request
from flask.views import MethodView
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from app import clock, db
from app.auth.guard import authenticated, current_user
from app.blueprints import Blueprint
from app.errors import Unprocessable, UnsupportedMediaType
from app.identity import schemas as identity_schemas
from app.identity import service as identity
from app.openapi import errors
from app.orgs import roster, schemas, service
from app.orgs.models import Department
from app.pagination import PageArgsSchema, page_schema, paginate

blp = Blueprint("admin", __name__, url_prefix="/api/v1/admin", description="Organisation admins")

DepartmentPage = page_schema(schemas.DepartmentSchema, "DepartmentPage")
UserListingPage = page_schema(identity_schemas.UserListingSchema, "UserListingPage")


@blp.route("/departments")
class Departments(MethodView):
    @authenticated(blp, "admin")
    @blp.arguments(PageArgsSchema(), location="query")
    @blp.response(200, DepartmentPage)
    def get(self, args: dict[str, Any]) -> Any:
        """List the organisation's departments."""
        stmt = (
            select(Department)
            .where(Department.org_id == current_user().org_id)
            .options(selectinload(Department.managers))
        )
        return paginate(db.session(), stmt, key=Department.id, **args)

    @authenticated(blp, "admin")
    @blp.arguments(schemas.DepartmentCreateSchema())
    @blp.response(201, schemas.DepartmentSchema)
    @errors(blp, 404, 409)
    def post(self, body: dict[str, Any]) -> Any:
        """Create a department (optionally under a parent, with managers).

        Names are unique among departments with the same parent, case and extra spaces aside
        (`Kasse` = `kasse `): a taken name is 409 with `existing_id`, the department that has it.
        """
        department = service.create_department(db.session(), org_id=current_user().org_id, **body)
        db.session.commit()
        return department


@blp.route("/departments/<department_id>")
class DepartmentById(MethodView):
    @authenticated(blp, "admin")
    @blp.arguments(schemas.DepartmentPatchSchema())
    @blp.response(200, schemas.DepartmentSchema)
    @errors(blp, 404, 409, 422)
    def patch(self, changes: dict[str, Any], department_id: str) -> Any:
        """Rename, move or change the managers of a department. A name taken by a department
        with the same (new) parent is 409 with `existing_id`."""
        department = service.update_department(
            db.session(), org_id=current_user().org_id, department_id=department_id, changes=changes
        )
        db.session.commit()
        return department


@blp.route("/users")
class Users(MethodView):
    @authenticated(blp, "admin")
    @blp.arguments(identity_schemas.UserListArgsSchema(), location="query")
    @blp.response(200, UserListingPage)
    @errors(blp, 404)
    def get(self, args: dict[str, Any]) -> Any:
        """Find users by username or display name, department (and below) or active state;
        `never_signed_in` and `last_login_at` show who has not started."""
        return identity.list_users(db.session(), org_id=current_user().org_id, **args)

    @authenticated(blp, "admin")
    @blp.arguments(schemas.UserCreateSchema())
    @blp.response(201, schemas.AdminUserSchema)
    @errors(blp, 404, 409)
    def post(self, body: dict[str, Any]) -> Any:
        """Create a user."""
        user = service.create_user(db.session(), org_id=current_user().org_id, **body)
        db.session.commit()
        return user


@blp.route("/users/<user_id>")
class UserById(MethodView):
    @authenticated(blp, "admin")
    @blp.arguments(schemas.UserPatchSchema())
    @blp.response(200, schemas.AdminUserSchema)
    @errors(blp, 404, 409)
    def patch(self, changes: dict[str, Any], user_id: str) -> Any:
        """Change a user; `active: false` deactivates (history is kept, logins end)."""
        user = service.update_user(
            db.session(),
            org_id=current_user().org_id,
            user_id=user_id,
            changes=changes,
            now=clock.now(),
        )
        db.session.commit()
        return user


@blp.route("/users/import")
class UserImport(MethodView):
    accepted_content_types = ("text/csv", "multipart/form-data", "text/plain")

    @authenticated(blp, "admin")
    @blp.arguments(schemas.RosterArgsSchema(), location="query")
    @blp.response(200, schemas.RosterReportSchema)
    @blp.doc(
        requestBody={
            "required": True,
            "content": {
                "text/csv": {"schema": {"type": "string"}},
                "multipart/form-data": {
                    "schema": {
                        "type": "object",
                        "properties": {"file": {"type": "string", "format": "binary"}},
                    }
                },
            },
        }
    )
    @errors(blp, 415, 422)
    def post(self, args: dict[str, Any]) -> Any:
        """Import an HR roster CSV (`username,display_name,department,roles`), all or nothing.

        Columns separated by `,`, `;` (Excel's Norwegian default) or tabs; UTF-8 with or
        without a byte order mark. `department` is a name, a path of names when the name is
        not unique (`Butikk Sentrum / Kasse`) or an id; `rows` says which department each row
        got. Any problem: 422 with `errors` keyed `rows[<line>].<column>` (the header is line
        1) and `problems`, the same as a list; nothing is imported.
        """
        if request.mimetype == "multipart/form-data":
            upload = request.files.get("file")
            if upload is None:
                raise Unprocessable("No file.", errors={"file": ["Upload the CSV as `file`."]})
            raw = upload.read()
        elif request.mimetype in ("text/csv", "text/plain"):
            raw = request.get_data()
        else:
            raise UnsupportedMediaType("Send the roster as text/csv or multipart/form-data.")
        session = db.session()
        # All or nothing: a refused roster raises before anything is written, and the import
        # runs in a savepoint so nothing of it outlives an error.
        with session.begin_nested():
            report = roster.import_roster(
                session,
                org_id=current_user().org_id,
                csv_text=roster.decode_roster(raw),
                **args,
            )
        session.commit()
        return report
