"""`/insights`: department heads' view of their departments and people (managers for the
departments they manage and everything below, admins for all; learners 403)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from flask import Response, request, stream_with_context
from flask.views import MethodView

from app import clock, db
from app.audit import service as audit
from app.auth.guard import authenticated, current_principal
from app.blueprints import Blueprint
from app.insights import exports, schemas, service
from app.languages import caller_locales
from app.openapi import errors
from app.pagination import decode_cursor, encode_cursor
from app.rendered import RenderedBodies
from app.replica import report_session

# Between the name and the id in a members cursor: the unit separator, never in a name. (Not
# NUL: cursors are refused with text the database cannot hold.)
_NAME_AND_ID = "\x1f"

# Pages of kept members lists, rendered (marshmallow, JSON, gzip) once per process.
_member_pages = RenderedBodies()

blp = Blueprint(
    "insights", __name__, url_prefix="/api/v1/insights", description="Managers' insights"
)

_DOWNLOADS = {
    "csv": "Spreadsheet as CSV (UTF-8 with BOM, `;` between fields)",
    "xlsx": "Excel workbook",
}
_FORMATS = {
    "application/json": "json",
    exports.CSV_MIMETYPE: "csv",
    exports.XLSX_MIMETYPE: "xlsx",
}


def _format(asked: str | None) -> str:
    """`?format=` first, else the best of the Accept header (JSON when it says nothing)."""
    if asked:
        return asked
    best = request.accept_mimetypes.best_match(list(_FORMATS), default="application/json")
    return _FORMATS[best or "application/json"]


def _download_docs(view: Any) -> Any:
    for content_type in (exports.CSV_MIMETYPE, exports.XLSX_MIMETYPE):
        view = blp.alt_response(
            200,
            description=f"With Accept: {content_type} or ?format=",
            content_type=content_type,
            success=True,
        )(view)
    return view


def _record_export(what: str, target: str, details: dict[str, Any]) -> None:
    principal = current_principal()
    audit.record(
        db.session(),
        org_id=principal.org_id,
        actor_id=principal.id,
        action=f"insights.{what}.export",
        target=target,
        details=details,
        now=clock.now(),
    )
    db.session.commit()


def _download(
    fmt: str, header: list[str], rows: Iterator[list[Any]], *, name: str, sheet: str
) -> Response:
    disposition = {"Content-Disposition": f'attachment; filename="{name}.{fmt}"'}
    if fmt == "csv":
        body = (chunk.encode("utf-8") for chunk in exports.csv_chunks(header, rows))
        return Response(
            stream_with_context(body),
            mimetype=exports.CSV_MIMETYPE,
            content_type=f"{exports.CSV_MIMETYPE}; charset=utf-8",
            headers=disposition,
        )
    path = exports.xlsx_file(header, rows, sheet=sheet)
    return Response(exports.file_chunks(path), mimetype=exports.XLSX_MIMETYPE, headers=disposition)


@blp.route("/departments")
class Departments(MethodView):
    @authenticated(blp, "manager", "admin")
    @blp.response(200, schemas.DepartmentTreeSchema)
    def get(self) -> Any:
        """The departments I may look at, depth first (a parent before its children); the
        whole tree in one answer."""
        items = service.department_tree(report_session(), viewer=current_principal())
        return {"items": items, "next_cursor": None}


@blp.route("/departments/<department_id>")
class DepartmentSummary(MethodView):
    @authenticated(blp, "manager", "admin")
    @blp.arguments(schemas.WeekArgsSchema(), location="query")
    @blp.response(200, schemas.SummarySchema)
    @errors(blp, 404, 422)
    def get(self, args: dict[str, Any], department_id: str) -> Any:
        """The week's figures of a department, its sub-departments included."""
        return service.department_summary(
            report_session(),
            viewer=current_principal(),
            department_id=department_id,
            week=args["week"],
            now=clock.now(),
        )


@blp.route("/departments/<department_id>/members")
class Members(MethodView):
    @authenticated(blp, "manager", "admin")
    @blp.arguments(schemas.MembersArgsSchema(), location="query")
    @blp.response(200, schemas.MemberPageSchema)
    @_download_docs
    @errors(blp, 404, 422)
    def get(self, args: dict[str, Any], department_id: str) -> Any:
        """The people of the department and below, by name, with the week's figures and
        who needs follow-up and why; CSV or Excel for the whole list."""
        principal = current_principal()
        locales = caller_locales()
        fmt = _format(args["format"])
        after = None
        if fmt == "json" and args["cursor"]:
            name, _, user_id = decode_cursor(args["cursor"]).partition(_NAME_AND_ID)
            after = (name, user_id)
        if fmt == "json":
            page = service.member_page(
                report_session(),
                viewer=principal,
                department_id=department_id,
                week=args["week"],
                now=clock.now(),
                locales=locales,
                after=after,
                only_follow_up=args["follow_up"],
                limit=args["limit"],
            )

            def render() -> dict[str, Any]:
                rows, more = page.rows()
                items = [row.as_dict(locales) for row in rows]
                cursor = None
                if more:
                    last = items[-1]["user"]
                    cursor = encode_cursor(f"{last['display_name']}{_NAME_AND_ID}{last['id']}")
                return {"items": items, "next_cursor": cursor}

            if page.kept is None:
                return render()
            # A page of kept figures is the same for every viewer who may see it and every
            # request until the figures are recomputed: rendered once per process.
            key = (department_id, args["week"], tuple(locales), after, args["follow_up"])
            return _member_pages.response(
                (*key, args["limit"]),
                page.kept,
                lambda: schemas.MemberPageSchema().dump(render()),
            )
        rows = service.member_rows(
            report_session(),
            viewer=principal,
            department_id=department_id,
            week=args["week"],
            now=clock.now(),
            locales=locales,
            only_follow_up=args["follow_up"],
        )
        first = next(rows, None)  # runs the scope check before anything is recorded
        _record_export(
            "members",
            department_id,
            {"format": fmt, "week": args["week"], "follow_up": args["follow_up"]},
        )
        header, cells = exports.member_table(
            _chain(first, rows), locales=locales, timezone=principal.organization.timezone
        )
        return _download(fmt, header, cells, name=f"members-{department_id}", sheet="Members")


def _chain(first: Any, rest: Iterator[Any]) -> Iterator[Any]:
    if first is not None:
        yield first
        yield from rest


@blp.route("/departments/<department_id>/children")
class Children(MethodView):
    @authenticated(blp, "manager", "admin")
    @blp.arguments(schemas.WeekArgsSchema(), location="query")
    @blp.response(200, schemas.SummaryListSchema)
    @errors(blp, 404, 422)
    def get(self, args: dict[str, Any], department_id: str) -> Any:
        """The week's figures of each child department, by name (the stores of a region)."""
        items = service.children_summaries(
            report_session(),
            viewer=current_principal(),
            department_id=department_id,
            week=args["week"],
            now=clock.now(),
        )
        return {"items": items}


@blp.route("/departments/<department_id>/requirements")
class Requirements(MethodView):
    @authenticated(blp, "manager", "admin")
    @blp.arguments(schemas.FormatArgsSchema(), location="query")
    @blp.response(200, schemas.RequirementMatrixSchema)
    @_download_docs
    @errors(blp, 404, 422)
    def get(self, args: dict[str, Any], department_id: str) -> Any:
        """Every person of the subtree × every competence requirement: valid, expiring,
        expired or missing, with dates (requirements that do not apply to a person are
        left out of their `states`)."""
        principal = current_principal()
        locales = caller_locales()
        columns, rows = service.requirement_matrix(
            report_session(),
            viewer=principal,
            department_id=department_id,
            now=clock.now(),
            locales=locales,
        )
        fmt = _format(args["format"])
        if fmt == "json":
            return {"requirements": columns, "members": list(rows)}
        _record_export("requirements", department_id, {"format": fmt})
        header, cells = exports.requirement_table(
            columns, rows, locales=locales, timezone=principal.organization.timezone
        )
        return _download(
            fmt, header, cells, name=f"requirements-{department_id}", sheet="Requirements"
        )


@blp.route("/departments/<department_id>/trend")
class Trend(MethodView):
    @authenticated(blp, "manager", "admin")
    @blp.arguments(schemas.TrendArgsSchema(), location="query")
    @blp.response(200, schemas.TrendSchema)
    @errors(blp, 404, 422)
    def get(self, args: dict[str, Any], department_id: str) -> Any:
        """The figures of the last `weeks` weeks up to this one, oldest first."""
        items = service.trend(
            report_session(),
            viewer=current_principal(),
            department_id=department_id,
            weeks=args["weeks"],
            now=clock.now(),
        )
        return {"items": items}


@blp.route("/departments/<department_id>/questions")
class Questions(MethodView):
    @authenticated(blp, "manager", "admin")
    @blp.arguments(schemas.QuestionArgsSchema(), location="query")
    @blp.response(200, schemas.QuestionListSchema)
    @errors(blp, 404, 422)
    def get(self, args: dict[str, Any], department_id: str) -> Any:
        """The questions the subtree gets wrong most in the last `weeks` weeks, worst first;
        only questions answered by at least 5 different people."""
        items = service.weak_questions(
            report_session(),
            viewer=current_principal(),
            department_id=department_id,
            weeks=args["weeks"],
            now=clock.now(),
            locales=caller_locales(),
        )
        return {"items": items}


@blp.route("/departments/<department_id>/training-record")
class TrainingRecord(MethodView):
    @authenticated(blp, "manager", "admin")
    @blp.arguments(schemas.TrainingRecordArgsSchema(), location="query")
    @blp.response(200, description="The training record as a PDF", content_type="application/pdf")
    @errors(blp, 404, 422)
    def get(self, args: dict[str, Any], department_id: str) -> Any:
        """Who in the subtree holds a competence requirement, since when and until when: the
        printout a food-safety inspector asks for."""
        principal = current_principal()
        locales = caller_locales()
        record = service.training_record(
            report_session(),
            viewer=principal,
            department_id=department_id,
            requirement_id=args["requirement_id"],
            now=clock.now(),
            locales=locales,
        )
        _record_export("training_record", department_id, {"requirement_id": args["requirement_id"]})
        body = exports.training_record_pdf(
            record, locales=locales, timezone=principal.organization.timezone
        )
        return Response(
            body,
            mimetype=exports.PDF_MIMETYPE,
            headers={
                "Content-Disposition": f'attachment; filename="training-record-{department_id}.pdf"'
            },
        )


@blp.route("/users/<user_id>")
class UserRecord(MethodView):
    @authenticated(blp, "manager", "admin")
    @blp.response(200, schemas.UserRecordSchema)
    @errors(blp, 404)
    def get(self, user_id: str) -> Any:
        """One person's record for their manager: modules with scores and dates,
        requirements, streak, points, last activity."""
        return service.user_record(
            report_session(),
            viewer=current_principal(),
            user_id=user_id,
            now=clock.now(),
            locales=caller_locales(),
        )
