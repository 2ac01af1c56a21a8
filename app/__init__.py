"""The application factory."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any, cast

from flask import Flask, Request, Response, current_app, request
from flask.sessions import NullSession, SessionInterface
from flask_compress import Compress
from flask_cors import CORS
from sqlalchemy import text
from werkzeug.exceptions import BadRequest, RequestEntityTooLarge
from werkzeug.middleware.proxy_fix import ProxyFix

from app import cache_headers, caching, db, errors, metrics, rate_limits, replica
from app.config import INSTANCE_DIR, load_settings
from app.extensions import api, connect_queue_redis, connect_redis
from app.json_provider import OrjsonProvider, unstorable_text_paths
from app.logging_setup import configure_logging
from app.openapi import swagger_ui_assets

JSON_BODY_TYPES = ("application/json",)
# Room for the multipart boundaries and part headers around a file of a view's own limit.
MULTIPART_OVERHEAD = 64 * 1024


class _NoCookieSessions(SessionInterface):
    """The API knows its callers by bearer token and never sets a cookie. Flask's default
    cookie session would build a signing serializer from SECRET_KEY on every request only to
    find no cookie."""

    def open_session(self, app: Flask, request: Any) -> NullSession:
        return self.make_null_session(app)

    def save_session(self, app: Flask, session: Any, response: Response) -> None:
        return None


class NanolearnRequest(Request):
    def on_json_loading_failed(self, e: ValueError | None) -> Any:
        """A body that is not JSON under the app's limits is a 400 saying why (Flask's says
        nothing outside debug mode)."""
        if e is None:  # not a JSON content type: Flask's 415
            return super().on_json_loading_failed(e)
        raise BadRequest(f"The request body is not valid JSON: {e}")


class NanolearnApp(Flask):
    session_interface = _NoCookieSessions()
    request_class = NanolearnRequest
    json_provider_class = OrjsonProvider

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._is_async: dict[Callable[..., Any], bool] = {}

    def ensure_sync(self, func: Callable[..., Any]) -> Callable[..., Any]:
        """As Flask's, but each function is inspected once: Flask asks whether every hook and
        view is a coroutine function on every request (a tenth of a cheap request's CPU)."""
        key = getattr(func, "__func__", func)  # a view method is bound anew per request
        is_async = self._is_async.get(key)
        if is_async is None:
            is_async = self._is_async[key] = inspect.iscoroutinefunction(func)
        return super().ensure_sync(func) if is_async else func


def create_app(overrides: dict[str, Any] | None = None) -> Flask:
    """Build the app from the environment; `overrides` lets tests swap settings."""
    app = NanolearnApp(__name__, instance_path=str(INSTANCE_DIR))
    app.config.from_mapping(load_settings().as_flask_config())
    app.config.update(overrides or {})
    configure_logging(app)

    engine = app.config.get("ENGINE") or db.make_engine(app.config["DATABASE_URL"])
    app.extensions["engine"] = engine
    db.session.configure(bind=engine)
    app.extensions["redis"] = app.config.get("REDIS_CLIENT") or connect_redis(app)
    app.extensions["queue_redis"] = app.config.get("QUEUE_REDIS_CLIENT") or connect_queue_redis(app)

    replica.init_app(app)
    metrics.init_app(app)
    rate_limits.init_app(app)
    _enable_cors(app)
    # Views with ETags answer If-None-Match themselves (`app.etags`), before the work.
    app.config.setdefault("COMPRESS_EVALUATE_CONDITIONAL_REQUEST", False)
    # gzip level 1, as nginx by default: on our JSON bodies (1-5 kB) it is 5-10 % larger
    # than level 6 and takes a third less time.
    app.config.setdefault("COMPRESS_LEVEL", 1)
    Compress(app)
    if hops := int(app.config.get("PROXY_FIX_HOPS") or 0):
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops)  # type: ignore[method-assign]

    api.init_app(app)
    api.spec.components.security_scheme(
        "bearerAuth", {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
    )
    app.register_blueprint(swagger_ui_assets)
    _register_blueprints(app)
    errors.register_error_handlers(app)
    caching.init_app(app)
    cache_headers.init_app(app)
    app.before_request(_apply_body_limit)
    app.before_request(_require_known_body_type)
    app.before_request(_read_json_body)
    _register_health(app)

    @app.teardown_appcontext
    def remove_session(_exc: BaseException | None) -> None:
        db.session.remove()

    from app.cli import register_commands

    register_commands(app)
    return app


def _register_blueprints(app: Flask) -> None:
    from app.audit.routes import blp as audit_blp
    from app.auth.routes import blp as auth_blp
    from app.competitions.routes import blp as competitions_blp
    from app.dashboard.pages import bp as dashboard_bp
    from app.editor.routes import blp as editor_blp
    from app.gamification.routes import blp as points_blp
    from app.identity.routes import blp as identity_blp
    from app.identity.scim_routes import bp as scim_blp
    from app.insights.routes import blp as insights_blp
    from app.interop import routes as interop
    from app.leaderboards.routes import blp as leaderboards_blp
    from app.learning.routes import blp as learning_blp
    from app.me.routes import blp as me_blp
    from app.media.routes import blp as media_blp
    from app.notifications.routes import blp as notifications_blp
    from app.orgs.routes import blp as admin_blp
    from app.paths.routes import blp as paths_blp
    from app.reviews.routes import blp as reviews_blp
    from app.screens.pages import bp as screen_pages_bp
    from app.screens.routes import blp as screens_blp

    for blueprint in (
        auth_blp,
        me_blp,
        points_blp,
        learning_blp,
        paths_blp,
        reviews_blp,
        leaderboards_blp,
        competitions_blp,
        screens_blp,
        notifications_blp,
        editor_blp,
        admin_blp,
        identity_blp,
        insights_blp,
        audit_blp,
        interop.admin_blp,
        interop.me_blp,
        interop.public_blp,
    ):
        api.register_blueprint(blueprint)
    app.register_blueprint(media_blp)  # files, not JSON: outside the OpenAPI document
    app.register_blueprint(screen_pages_bp)  # HTML for TVs: outside the OpenAPI document
    app.register_blueprint(scim_blp)  # SCIM 2.0 at the server root, in its own format
    app.register_blueprint(dashboard_bp)  # HTML for managers: outside the OpenAPI document


def _enable_cors(app: Flask) -> None:
    """CORS headers for requests that come with an Origin (browsers: managers' screens,
    editors' tools); the phone app sends none.

    With `always_send=False` flask-cors adds nothing to a request without an Origin, but it
    still worked its way through every such response under /api/ to find that out (a
    fourteenth of a board read's CPU): its after-request hook now runs only when there is an
    Origin. (It answers preflights and errors by other hooks, which are unchanged.)
    """
    hooks = app.after_request_funcs.setdefault(None, [])
    before = list(hooks)
    CORS(app, resources={r"/api/*": {"origins": app.config["CORS_ORIGINS"]}}, always_send=False)
    [cors_hook] = [hook for hook in hooks if hook not in before]

    def cors_when_cross_origin(response: Response) -> Response:
        return cast(Response, cors_hook(response)) if "Origin" in request.headers else response

    hooks[hooks.index(cors_hook)] = cors_when_cross_origin


def _view_class() -> Any:
    view = current_app.view_functions.get(request.endpoint or "")
    return getattr(view, "view_class", None)


def _apply_body_limit() -> None:
    """The body limit: MAX_BODY_BYTES, or a view's own (its class names the setting in
    `body_limit_setting`, e.g. the image upload's MEDIA_MAX_BYTES, which is larger).

    A body sent in chunks has no Content-Length to refuse it by, and Werkzeug stops reading
    it at the limit without a word, so a view saw it cut short (a JSON body then seemed
    malformed): reaching the limit is a 413 here.
    """
    setting = getattr(_view_class(), "body_limit_setting", None)
    if setting:
        request.max_content_length = int(current_app.config[setting]) + MULTIPART_OVERHEAD
    limit = request.max_content_length
    if (
        limit is not None
        and request.content_length is None
        and _is_chunked()
        and len(request.get_data(cache=True)) >= limit
    ):
        raise RequestEntityTooLarge()


def _is_chunked() -> bool:
    return "chunked" in request.headers.get("Transfer-Encoding", "").lower()


def _require_known_body_type() -> None:
    """415 for a body the endpoint cannot read (JSON unless the view says otherwise)."""
    if request.method not in ("POST", "PUT", "PATCH") or not _has_body():
        return
    view = current_app.view_functions.get(request.endpoint or "")
    view_class = _view_class()
    # A class view says so on its class; a plain view (the dashboard's forms) on itself.
    accepted: tuple[str, ...] = (
        getattr(view_class, "accepted_content_types", None)
        or getattr(view, "accepted_content_types", None)
        or JSON_BODY_TYPES
    )
    if request.mimetype not in accepted and not request.mimetype.endswith("+json"):
        raise errors.UnsupportedMediaType(
            f"Send the body as {' or '.join(accepted)}, not {request.mimetype or 'no type'}."
        )


def _read_json_body() -> None:
    """Every JSON body is parsed here, once, by the app's one parser and its limits
    (`app.json_provider`): a malformed one is a 400 before any view or decorator reads it.

    PostgreSQL cannot store or even compare text holding NUL (U+0000): such input would
    end as a 500 deep in a query, so it is refused up front, where it is still the caller's."""
    # Cheap looks first: the decoded path, and the raw query string (a NUL there is `%00`).
    if "\x00" in request.path and any(
        "\x00" in str(value) for value in (request.view_args or {}).values()
    ):
        raise errors.NotFound("No such resource.")
    message = ["Must not contain NUL characters."]
    query = request.query_string
    if b"%00" in query or b"\x00" in query:
        bad_args = [
            name for name, value in request.args.items(multi=True) if "\x00" in name + value
        ]
        if bad_args:
            raise errors.Unprocessable(
                "Invalid query parameters.", errors={name: message for name in bad_args}
            )
    if request.routing_exception is None and request.is_json and _has_body():
        body = request.get_json()  # cached for the view
        bad_fields = unstorable_text_paths(body)
        if bad_fields:
            raise errors.Unprocessable(
                "The request has invalid fields; see errors.",
                errors={name: message for name in bad_fields},
            )


def _has_body() -> bool:
    """A body announced by its length, or sent in chunks (no Content-Length at all)."""
    if request.content_length is not None:
        return request.content_length > 0
    return _is_chunked()


def _register_health(app: Flask) -> None:
    @app.get("/healthz")
    def healthz() -> Response:
        """The process is up."""
        return app.response_class('{"status":"ok"}', mimetype="application/json")

    @app.get("/readyz")
    def readyz() -> Response:
        """The database and Redis are reachable."""
        checks: dict[str, str] = {}
        try:
            with app.extensions["engine"].connect() as connection:
                connection.execute(text("SELECT 1"))
            checks["database"] = "ok"
        except Exception as exc:  # any failure means not ready
            checks["database"] = f"unavailable: {type(exc).__name__}"
        try:
            app.extensions["redis"].ping()
            checks["redis"] = "ok"
        except Exception as exc:
            checks["redis"] = f"unavailable: {type(exc).__name__}"
        ready = all(value == "ok" for value in checks.values())
        return app.response_class(
            app.json.dumps({"status": "ready" if ready else "unavailable", "checks": checks}),
            status=200 if ready else 503,
            mimetype="application/json",
        )
