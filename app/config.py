"""Every setting comes from the environment, with defaults that work on a fresh machine."""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

INSTANCE_DIR = Path(os.environ.get("NANOLEARN_INSTANCE_DIR", Path.cwd() / "instance"))


def _env(name: str, default: str) -> str:
    return os.environ.get(name, default)


def _env_int(name: str, default: int) -> int:
    return int(os.environ.get(name, default))


def _env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


@dataclass(frozen=True)
class Settings:
    """The typed view of the configuration; `as_flask_config` turns it into `app.config`."""

    env: str
    database_url: str
    redis_url: str | None
    queue_redis_url: str | None
    database_replica_url: str | None
    replica_max_lag_seconds: float
    metrics_token: str | None
    secret_key: str
    access_token_minutes: int
    refresh_token_days: int
    max_body_bytes: int
    login_limit_per_account: str
    login_limit_per_ip: str
    default_rate_limit: str
    idempotency_hours: int
    cors_origins: str
    log_json: bool
    pass_threshold_percent: int
    fcm_credentials: str | None
    fcm_endpoint: str | None
    device_unused_days: int
    media_max_bytes: int
    proxy_fix_hops: int
    media_dir: str
    worker_queues: str
    leaderboards_live: bool
    password_reset_minutes: int
    invitation_hours: int
    encryption_keys: str | None
    oidc_allow_http: bool
    oidc_redirect_origins: str
    oidc_login_hours: int
    public_base_url: str
    xapi_batch_size: int
    xapi_timeout_seconds: float
    xapi_allow_http: bool
    badge_key_algorithm: str
    insights_cache_seconds: float
    screen_streams_max: int
    screens_watch_seconds: float
    screen_stream_heartbeat_seconds: float
    screen_stream_lifetime_seconds: float

    @property
    def is_production(self) -> bool:
        return self.env == "production"

    def as_flask_config(self) -> dict[str, Any]:
        return {
            "ENV_NAME": self.env,
            "SECRET_KEY": self.secret_key,
            "DATABASE_URL": self.database_url,
            "REDIS_URL": self.redis_url,
            "QUEUE_REDIS_URL": self.queue_redis_url,
            "DATABASE_REPLICA_URL": self.database_replica_url,
            "REPLICA_MAX_LAG_SECONDS": self.replica_max_lag_seconds,
            "METRICS_TOKEN": self.metrics_token,
            "ACCESS_TOKEN_MINUTES": self.access_token_minutes,
            "REFRESH_TOKEN_DAYS": self.refresh_token_days,
            "MAX_CONTENT_LENGTH": self.max_body_bytes,
            "LOGIN_LIMIT_PER_ACCOUNT": self.login_limit_per_account,
            "LOGIN_LIMIT_PER_IP": self.login_limit_per_ip,
            "RATE_LIMIT_DEFAULT": self.default_rate_limit,
            "IDEMPOTENCY_HOURS": self.idempotency_hours,
            "CORS_ORIGINS": self.cors_origins,
            "LOG_JSON": self.log_json,
            "PASS_THRESHOLD_PERCENT": self.pass_threshold_percent,
            "FCM_CREDENTIALS": self.fcm_credentials,
            "FCM_ENDPOINT": self.fcm_endpoint,
            "DEVICE_UNUSED_DAYS": self.device_unused_days,
            "MEDIA_MAX_BYTES": self.media_max_bytes,
            "PROXY_FIX_HOPS": self.proxy_fix_hops,
            "MEDIA_DIR": self.media_dir,
            "WORKER_QUEUES": self.worker_queues,
            "LEADERBOARDS_LIVE": self.leaderboards_live,
            "PASSWORD_RESET_MINUTES": self.password_reset_minutes,
            "INVITATION_HOURS": self.invitation_hours,
            "ENCRYPTION_KEYS": self.encryption_keys,
            "OIDC_ALLOW_HTTP": self.oidc_allow_http,
            "OIDC_REDIRECT_ORIGINS": self.oidc_redirect_origins,
            "OIDC_LOGIN_HOURS": self.oidc_login_hours,
            "PUBLIC_BASE_URL": self.public_base_url,
            "XAPI_BATCH_SIZE": self.xapi_batch_size,
            "XAPI_TIMEOUT_SECONDS": self.xapi_timeout_seconds,
            "XAPI_ALLOW_HTTP": self.xapi_allow_http,
            "BADGE_KEY_ALGORITHM": self.badge_key_algorithm,
            "INSIGHTS_CACHE_SECONDS": self.insights_cache_seconds,
            "SCREEN_STREAMS_MAX": self.screen_streams_max,
            "SCREENS_WATCH_SECONDS": self.screens_watch_seconds,
            "SCREEN_STREAM_HEARTBEAT_SECONDS": self.screen_stream_heartbeat_seconds,
            "SCREEN_STREAM_LIFETIME_SECONDS": self.screen_stream_lifetime_seconds,
            # flask-smorest / OpenAPI
            "API_TITLE": "Nanolearn API",
            "API_VERSION": "v1",
            "OPENAPI_VERSION": "3.1.0",
            "OPENAPI_URL_PREFIX": "/api/v1",
            "OPENAPI_JSON_PATH": "openapi.json",
            "OPENAPI_SWAGGER_UI_PATH": "docs",
            # Swagger UI's files come from a pinned package and are served by the app itself
            # (`app.openapi.swagger_ui_assets`): the docs work with no internet.
            "OPENAPI_SWAGGER_UI_URL": "/api/v1/docs/assets/",
            "JSON_SORT_KEYS": False,
        }


def _secret_key(env: str) -> str:
    key = os.environ.get("SECRET_KEY")
    if key:
        return key
    if env == "production":
        raise RuntimeError("SECRET_KEY must be set when NANOLEARN_ENV=production")
    # A development key that survives restarts, so tokens stay valid across `make run`s.
    key_file = INSTANCE_DIR / "secret_key"
    if not key_file.exists():
        INSTANCE_DIR.mkdir(parents=True, exist_ok=True)
        key_file.write_text(secrets.token_urlsafe(48))
    return key_file.read_text().strip()


def load_settings() -> Settings:
    """Read the settings from the environment."""
    env = _env("NANOLEARN_ENV", "development")
    return Settings(
        env=env,
        database_url=_env("DATABASE_URL", f"sqlite:///{INSTANCE_DIR / 'nanolearn.sqlite3'}"),
        redis_url=os.environ.get("REDIS_URL") or None,
        queue_redis_url=os.environ.get("QUEUE_REDIS_URL") or None,
        database_replica_url=os.environ.get("DATABASE_REPLICA_URL") or None,
        replica_max_lag_seconds=float(os.environ.get("REPLICA_MAX_LAG_SECONDS", "2")),
        metrics_token=os.environ.get("METRICS_TOKEN") or None,
        secret_key=_secret_key(env),
        access_token_minutes=_env_int("ACCESS_TOKEN_MINUTES", 15),
        refresh_token_days=_env_int("REFRESH_TOKEN_DAYS", 30),
        max_body_bytes=_env_int("MAX_BODY_BYTES", 2 * 1024 * 1024),
        login_limit_per_account=_env("LOGIN_LIMIT_PER_ACCOUNT", "10/minute"),
        login_limit_per_ip=_env("LOGIN_LIMIT_PER_IP", "300/minute"),
        default_rate_limit=_env("RATE_LIMIT_DEFAULT", "600/minute"),
        idempotency_hours=_env_int("IDEMPOTENCY_HOURS", 48),
        cors_origins=_env("CORS_ORIGINS", "*"),
        log_json=_env_bool("LOG_JSON", env == "production"),
        pass_threshold_percent=_env_int("PASS_THRESHOLD_PERCENT", 80),
        fcm_credentials=os.environ.get("FCM_CREDENTIALS") or None,
        fcm_endpoint=os.environ.get("FCM_ENDPOINT") or None,
        device_unused_days=_env_int("DEVICE_UNUSED_DAYS", 90),
        media_max_bytes=_env_int("MEDIA_MAX_BYTES", 5 * 1024 * 1024),
        proxy_fix_hops=_env_int("PROXY_FIX_HOPS", 0),
        media_dir=_env("MEDIA_DIR", str(INSTANCE_DIR / "media")),
        worker_queues=_env("WORKER_QUEUES", "default"),
        # Off: awards skip the Redis board update; boards are then only as fresh as the last
        # `leaderboards rebuild` (for measuring what live boards cost, or to shed Redis load).
        leaderboards_live=_env_bool("LEADERBOARDS_LIVE", True),
        password_reset_minutes=_env_int("PASSWORD_RESET_MINUTES", 60),
        invitation_hours=_env_int("INVITATION_HOURS", 72),
        encryption_keys=os.environ.get("ENCRYPTION_KEYS") or None,
        # Identity providers over plain http: local and test providers only, unless said.
        oidc_allow_http=_env_bool("OIDC_ALLOW_HTTP", env != "production"),
        oidc_redirect_origins=_env("OIDC_REDIRECT_ORIGINS", ""),
        # A login by single sign-on refreshes this long, then the app asks the provider again.
        oidc_login_hours=_env_int("OIDC_LOGIN_HOURS", 24),
        public_base_url=_env("PUBLIC_BASE_URL", "http://127.0.0.1:5000").rstrip("/"),
        xapi_batch_size=_env_int("XAPI_BATCH_SIZE", 250),
        xapi_timeout_seconds=float(_env("XAPI_TIMEOUT_SECONDS", "10")),
        # Plain http:// LRS endpoints: always outside production, in production only when set.
        xapi_allow_http=_env_bool("XAPI_ALLOW_HTTP", env != "production"),
        badge_key_algorithm=_env("BADGE_KEY_ALGORITHM", "ES256"),
        # The oldest managers' figures may be when shown (issue 14 promises 5 s); 0: no cache.
        insights_cache_seconds=max(0.0, float(_env("INSIGHTS_CACHE_SECONDS", "4"))),
        # Store screens' event streams (docs/screens.md): open streams one process holds (each
        # a thread: keep gunicorn's --threads above it), how often its watcher looks at their
        # departments, a quiet stream's heartbeat, and how long a stream lives before the page
        # opens a new one.
        screen_streams_max=_env_int("SCREEN_STREAMS_MAX", 500),
        screens_watch_seconds=float(_env("SCREENS_WATCH_SECONDS", "1")),
        screen_stream_heartbeat_seconds=float(_env("SCREEN_STREAM_HEARTBEAT_SECONDS", "15")),
        screen_stream_lifetime_seconds=float(_env("SCREEN_STREAM_LIFETIME_SECONDS", "1800")),
    )
