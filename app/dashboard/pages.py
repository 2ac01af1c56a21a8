"""`/dashboard/`: the manager's dashboard, rendered on the server from the JSON API.

Each view reads the API in-process with the manager's token (`api.py`) and renders a Jinja2
template; changes are forms posted with a CSRF token (`cookies.py`). No script is needed.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any, TypeVar
from urllib.parse import quote
from zoneinfo import ZoneInfo

from flask import Blueprint, Response, g, redirect, render_template, request, url_for

from app.dashboard import api, chart, cookies
from app.dashboard.texts import WORDS
from app.errors import AppError
from app.web import secure_page_headers, web_language

bp = Blueprint(
    "dashboard",
    __name__,
    url_prefix="/dashboard",
    template_folder="templates",
    static_folder="static",
    static_url_path="/static",
)

API = "/api/v1"
FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")
DOWNLOADS = {
    "csv": "text/csv",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


F = TypeVar("F", bound=Callable[..., Any])


def _form(view: F) -> F:
    """A view that takes an HTML form (the app refuses other bodies than JSON by default)."""
    view.accepted_content_types = FORM_TYPES  # type: ignore[attr-defined]
    return view


_PER_REQUEST = ("new_tokens", "logged_out", "me", "new_csrf")


@bp.before_request
def _start() -> None:
    # What a request learns about its login is its own (tests run requests in one app context).
    for name in _PER_REQUEST:
        g.pop(name, None)


@bp.after_request
def _finish(response: Response) -> Response:
    if g.get("new_tokens"):
        cookies.keep_login(response, g.new_tokens)
    if g.get("logged_out"):
        cookies.forget_login(response)
    cookies.ensure_csrf(response)
    if response.mimetype == "text/html":
        response.headers["Cache-Control"] = "no-store"
    return secure_page_headers(response)


@bp.errorhandler(AppError)
def _problem(error: AppError) -> tuple[str, int]:
    return _render("problem.html", status=error.status, detail=error.detail), error.status


# --- talking to the API -----------------------------------------------------------------------


def _token() -> str | None:
    tokens = g.get("new_tokens")
    return str(tokens["access_token"]) if tokens else cookies.access_token()


def _api(method: str, path: str, **kwargs: Any) -> api.Answer:
    """An API call as the logged-in manager; an expired access token is renewed once with
    the refresh token (the new pair goes back in the cookies)."""
    answer = api.call(method, path, token=_token(), **kwargs)
    if answer.status == 401 and cookies.refresh_token() and not g.get("new_tokens"):
        renewed = api.call(
            "POST", f"{API}/auth/refresh", json={"refresh_token": cookies.refresh_token()}
        )
        if renewed.ok:
            g.new_tokens = renewed.json()
            answer = api.call(method, path, token=_token(), **kwargs)
    if answer.status == 401:
        g.logged_out = True
    return answer


def _segment(value: str) -> str:
    """A path parameter as one segment of an API path (nothing in it can add a query)."""
    return quote(value, safe="")


def _me() -> dict[str, Any] | None:
    if not _token() and not cookies.refresh_token():
        return None
    if "me" not in g:
        answer = _api("GET", f"{API}/me")
        g.me = answer.json() if answer.ok else None
    me: dict[str, Any] | None = g.me
    return me


def _language(me: dict[str, Any] | None) -> str:
    """The manager's own language, else the browser's, else the organisation's."""
    browser = request.accept_languages.best_match(["nb", "nn", "no", "en"])
    organization = (me or {}).get("organization") or {}
    return web_language((me or {}).get("locale"), browser, organization.get("default_locale"))


def _render(template: str, **context: Any) -> str:
    me = context.pop("me", None) or g.get("me")
    lang = _language(me)
    return render_template(
        f"dashboard/{template}",
        me=me,
        lang=lang,
        t=WORDS[lang],
        csrf_token=cookies.csrf_token(),
        csrf_field=cookies.CSRF_FIELD,
        **context,
    )


def _manager() -> dict[str, Any]:
    me = _me()
    if me is None:
        raise _LoginNeeded()
    return me


class _LoginNeeded(Exception):
    """No valid login in this browser: the page answers with the login form."""


@bp.errorhandler(_LoginNeeded)
def _to_login(_error: _LoginNeeded) -> Response:
    g.logged_out = True
    return redirect(url_for("dashboard.index"), code=303)  # type: ignore[return-value]


# --- logging in and out -------------------------------------------------------------------


@bp.get("/")
def index() -> str | Response | tuple[str, int]:
    """The login form, or the manager's departments."""
    me = _me()
    if me is None:
        return _render("login.html", error=None, organization="")
    if not set(me.get("roles") or []) & {"manager", "admin"}:
        words = WORDS[_language(me)]
        return _render("problem.html", me=me, status=403, detail=words["not_manager"]), 403
    departments = _api("GET", f"{API}/insights/departments")
    items = departments.json()["items"] if departments.ok else []
    if len(items) == 1:
        return redirect(url_for("dashboard.department", department_id=items[0]["id"]), code=303)  # type: ignore[return-value]
    return _render("index.html", departments=_tree(items), available=departments.ok)


def _tree(items: list[dict[str, Any]]) -> list[tuple[int, dict[str, Any]]]:
    """The departments in tree order, each with its depth."""
    known = {item["id"] for item in items}
    children: dict[str | None, list[dict[str, Any]]] = {}
    for item in items:
        parent = item.get("parent_id") if item.get("parent_id") in known else None
        children.setdefault(parent, []).append(item)
    ordered: list[tuple[int, dict[str, Any]]] = []

    def walk(parent: str | None, depth: int) -> None:
        for item in sorted(children.get(parent, []), key=lambda i: i["name"]):
            ordered.append((depth, item))
            walk(item["id"], depth + 1)

    walk(None, 0)
    return ordered


@bp.post("/login")
@_form
def login() -> str | Response | tuple[str, int]:
    """Log in with the app's username and password (the API's own login and its limits)."""
    cookies.check_csrf()
    organization = request.form.get("organization", "").strip()[:63]
    answer = api.call(
        "POST",
        f"{API}/auth/login",
        json={
            "organization": organization,
            "username": request.form.get("username", "").strip()[:150],
            "password": request.form.get("password", "")[:1024],
        },
    )
    if answer.ok:
        g.new_tokens = answer.json()
        return redirect(url_for("dashboard.index"), code=303)  # type: ignore[return-value]
    words = WORDS[_language(None)]
    error = words["login_limited"] if answer.status == 429 else words["login_failed"]
    status = 429 if answer.status == 429 else 401
    return _render("login.html", error=error, organization=organization), status


@bp.get("/sso")
def single_sign_on() -> Response:
    """Sign in with the organisation's identity provider: the API's redirect flow (PKCE),
    whose callback comes back to `sso_done` with a one-time code."""
    organization = request.args.get("organization", "").strip()[:63]
    if not organization:
        return redirect(url_for("dashboard.index"), code=303)  # type: ignore[return-value]
    done = url_for("dashboard.sso_done")
    start = f"{API}/auth/oidc/{quote(organization, safe='')}/start?redirect_uri={quote(done)}"
    return redirect(start, code=303)  # type: ignore[return-value]


@bp.get("/sso/done")
def sso_done() -> str | Response | tuple[str, int]:
    """The end of a single sign-on: trade the one-time code for the login's tokens."""
    answer = api.call(
        "POST", f"{API}/auth/oidc/token", json={"code": request.args.get("oidc_code", "")[:200]}
    )
    if answer.ok:
        g.new_tokens = answer.json()
        return redirect(url_for("dashboard.index"), code=303)  # type: ignore[return-value]
    words = WORDS[_language(None)]
    return _render("login.html", error=words["sso_failed"], organization=""), 401


@bp.post("/logout")
@_form
def logout() -> Response:
    cookies.check_csrf()
    if cookies.refresh_token():
        api.call("POST", f"{API}/auth/logout", json={"refresh_token": cookies.refresh_token()})
    g.logged_out = True
    return redirect(url_for("dashboard.index"), code=303)  # type: ignore[return-value]


# --- a department -------------------------------------------------------------------------


def _get(path: str, **query: Any) -> Any:
    """The JSON of a read, or None when the API does not have it (yet) or refuses it."""
    answer = _api("GET", path, query=query)
    if answer.status == 401:
        raise _LoginNeeded()
    return answer.json() if answer.ok else None


def _department_summary(path: str, **query: Any) -> Any:
    """The department's summary; its 403/404 (not theirs, not there) is the page's."""
    answer = _api("GET", path, query=query)
    if answer.status == 401:
        raise _LoginNeeded()
    if answer.status in (403, 404, 422):
        raise _api_error(answer)
    return answer.json() if answer.ok else None


def _api_error(answer: api.Answer) -> AppError:
    body = answer.json() if answer.headers.get("Content-Type", "").endswith("json") else None
    error = AppError((body or {}).get("detail") or "The request failed.")
    error.status = answer.status
    return error


@bp.get("/departments/<department_id>")
def department(department_id: str) -> str:
    """One department: summary, people who need follow-up, requirements, trend, weak
    questions, downloads, a reminder to send, and the store's screens."""
    return _render_department(department_id)


def _render_department(department_id: str, **notices: Any) -> str:
    me = _manager()
    base = f"{API}/insights/departments/{_segment(department_id)}"
    week = request.args.get("week") or None
    summary = _department_summary(base, week=week)
    if summary is None:
        return _render("problem.html", status=404, detail=WORDS[_language(me)]["missing"])
    members = _get(f"{base}/members", week=week, limit=100)
    trend = _get(f"{base}/trend", weeks=12)
    trend_items = (trend or {}).get("items") or []
    screens = _get(f"{API}/screens", limit=100)
    tz = ZoneInfo((me or {}).get("timezone") or "Europe/Oslo")
    return _render(
        "department.html",
        department_id=department_id,
        summary=summary,
        members=(members or {}).get("items"),
        requirements=_get(f"{base}/requirements"),
        trend=chart.rate_chart(
            [i["week"] for i in trend_items], [i.get("path_completion_rate") for i in trend_items]
        )
        if trend_items
        else None,
        trend_loaded=trend is not None,
        questions=(_get(f"{base}/questions", weeks=4) or {}).get("items"),
        children=(_get(f"{base}/children", week=week) or {}).get("items"),
        screens=[
            s for s in (screens or {}).get("items", []) if s["department_id"] == department_id
        ],
        local=lambda iso: _local(iso, tz),
        **notices,
    )


def _local(iso: str | None, tz: ZoneInfo) -> str:
    if not iso:
        return ""
    return datetime.fromisoformat(iso).astimezone(tz).strftime("%Y-%m-%d %H:%M")


@bp.get("/departments/<department_id>/<any(members, requirements):table>.<any(csv, xlsx):kind>")
def download(department_id: str, table: str, kind: str) -> Response:
    """The members or the requirement matrix as CSV or Excel, straight from the API."""
    _manager()
    query = {"format": kind, "week": request.args.get("week") or None}
    path = f"{API}/insights/departments/{_segment(department_id)}/{table}"
    return _file(_api("GET", path, query=query, accept=DOWNLOADS[kind]), f"{table}.{kind}")


@bp.get("/departments/<department_id>/training-record.pdf")
def training_record(department_id: str) -> Response:
    _manager()
    path = f"{API}/insights/departments/{_segment(department_id)}/training-record"
    query = {"requirement_id": request.args.get("requirement_id", "")[:26]}
    return _file(_api("GET", path, query=query, accept="application/pdf"), "training-record.pdf")


def _file(answer: api.Answer, name: str) -> Response:
    if not answer.ok:
        raise _api_error(answer)
    response = Response(answer.body, mimetype=answer.headers.get("Content-Type"))
    response.headers["Content-Disposition"] = answer.headers.get(
        "Content-Disposition", f'attachment; filename="{name}"'
    )
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.post("/departments/<department_id>/nudge")
@_form
def nudge(department_id: str) -> str:
    """Remind the department's people (or only those who need follow-up)."""
    cookies.check_csrf()
    _manager()
    answer = _api(
        "POST",
        f"{API}/nudges",
        json={
            "department_id": department_id,
            "only_follow_up": request.form.get("only_follow_up") == "1",
            "message": request.form.get("message", "")[:500],
        },
    )
    if not answer.ok:
        return _render_department(department_id, error=_api_error(answer).detail)
    recipients = len(answer.json().get("recipients") or [])
    return _render_department(department_id, nudged=recipients)


@bp.post("/departments/<department_id>/screens")
@_form
def make_screen(department_id: str) -> str:
    """A new TV screen for the department; its secret link is shown once, in this answer."""
    cookies.check_csrf()
    _manager()
    answer = _api(
        "POST",
        f"{API}/screens",
        json={"department_id": department_id, "name": request.form.get("name", "")[:100]},
    )
    if not answer.ok:
        return _render_department(department_id, error=_api_error(answer).detail)
    return _render_department(department_id, new_screen=answer.json())


@bp.post("/departments/<department_id>/screens/<screen_id>/delete")
@_form
def remove_screen(department_id: str, screen_id: str) -> str:
    cookies.check_csrf()
    _manager()
    answer = _api("DELETE", f"{API}/screens/{_segment(screen_id)}")
    if not answer.ok:
        return _render_department(department_id, error=_api_error(answer).detail)
    return _render_department(department_id, removed=True)
