"""Browser tests: Debian's Chromium (headless, driven by selenium through the packaged
chromedriver) against the real app under gunicorn on a free local port.

The server is another process with a database of its own (a PostgreSQL database next to the
test database, or a SQLite file), so that what the browser does is committed as in
production and never mixes with the other tests' rolled-back transactions; it shares their
Redis. Without Chromium the tests skip, except under `CI=true`, where they fail: CI must run
them. `make test` installs Chromium when run as root.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import redis
from sqlalchemy import Engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from app import db
from app.migrate import upgrade
from tests.conftest import _TMP

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"  # screenshots; git-ignored
CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-dev-shm-usage",
)
SECRET = "browser-test-secret-key-that-is-long-enough-for-hs256"
# As the screens' process is served (README, "Store screens"): an event stream holds a thread.
SCREENS_WORKERS = ("--worker-class", "gthread", "--threads", "32")


def _missing() -> str | None:
    """Why the browser tests cannot run here, or None."""
    for path in (CHROMIUM, CHROMEDRIVER):
        if not os.access(path, os.X_OK):
            return (
                f"{path} is missing: install Debian's chromium and chromium-driver (make browser)"
            )
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "selenium is not installed (pip install -e '.[dev]')"
    return None


@pytest.fixture(scope="session")
def chromium_ready() -> None:
    reason = _missing()
    if reason is None:
        return
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"The browser tests must run in CI: {reason}")
    pytest.skip(reason)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@dataclass
class LiveServer:
    base_url: str
    engine: Engine
    process: subprocess.Popen[bytes]
    log_path: Path
    env: dict[str, str]  # what gunicorn runs with (a second server may share it)

    def url(self, path: str) -> str:
        return self.base_url + path


def _gunicorn(port: int, env: dict[str, str], log_path: Path) -> subprocess.Popen[bytes]:
    """gunicorn serving the app on `port` as the screens' process is served (2 `gthread`
    workers of many threads: a TV's event stream holds a thread), in a process group of its
    own (so that the group can be stopped, frozen and killed as one)."""
    gunicorn = Path(sys.executable).with_name("gunicorn")
    with log_path.open("ab") as log:
        return subprocess.Popen(
            [
                str(gunicorn),
                "--bind",
                f"127.0.0.1:{port}",
                "--workers",
                "2",
                *SCREENS_WORKERS,
                "wsgi:app",
            ],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def _end(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is not None:
        return
    os.killpg(process.pid, signal.SIGCONT)  # a frozen server cannot stop itself
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def _browser_database() -> tuple[str, Any]:
    """A database of the browser tests' own: (url, drop callback)."""
    url = os.environ.get("DATABASE_URL")
    if not url:
        path = Path(_TMP) / "browser.sqlite3"
        path.unlink(missing_ok=True)
        return f"sqlite:///{path}", lambda: path.unlink(missing_ok=True)
    parsed = make_url(url)
    name = f"{parsed.database}_browser"[:63]
    admin = db.make_engine(
        parsed.set(database="postgres").render_as_string(hide_password=False),
        isolation_level="AUTOCOMMIT",
    )

    def run(sql: str) -> None:
        with admin.connect() as connection:
            connection.execute(text(sql))

    run(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    run(f'CREATE DATABASE "{name}"')

    def drop() -> None:
        run(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()

    return parsed.set(database=name).render_as_string(hide_password=False), drop


@pytest.fixture(scope="session")
def live_server(chromium_ready: None, redis_client: redis.Redis) -> Iterator[LiveServer]:
    """gunicorn serving the app on a free port (`_gunicorn`)."""
    database_url, drop = _browser_database()
    engine = db.make_engine(database_url)
    upgrade(engine)
    redis_url = os.environ.get("REDIS_URL") or (
        f"unix://{redis_client._embedded.socket_file}"  # type: ignore[attr-defined]
    )
    port = _free_port()
    ARTIFACTS.mkdir(exist_ok=True)
    log_path = ARTIFACTS / "browser-server.log"
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_", "REDIS_"))},
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "SECRET_KEY": SECRET,
        "NANOLEARN_INSTANCE_DIR": str(Path(_TMP) / "browser-instance"),
        "MEDIA_DIR": str(Path(_TMP) / "browser-media"),
        "RATE_LIMIT_DEFAULT": "",
        # A heartbeat every 5 s: the page takes 15 s of silence (not 35) for a lost stream.
        "SCREEN_STREAM_HEARTBEAT_SECONDS": "5",
    }
    log_path.unlink(missing_ok=True)
    process = _gunicorn(port, env, log_path)
    server = LiveServer(f"http://127.0.0.1:{port}", engine, process, log_path, env)
    try:
        _wait_ready(server)
        yield server
    finally:
        _end(server.process)
        engine.dispose()
        drop()


class RestartableServer(LiveServer):
    """A second gunicorn on the live server's database and Redis, on a port of its own,
    that a test stops, freezes and starts again (the live server serves the other tests)."""

    def start(self) -> None:
        self.process = _gunicorn(int(self.base_url.rsplit(":", 1)[1]), self.env, self.log_path)
        _wait_ready(self)

    def stop(self) -> None:
        """Gone: its port refuses connections, as after a crash or during a restart."""
        _end(self.process)

    def freeze(self) -> None:
        """Still listening but answering nothing, as behind a network that drops packets."""
        os.killpg(self.process.pid, signal.SIGSTOP)


@pytest.fixture
def restartable_server(live_server: LiveServer) -> Iterator[RestartableServer]:
    log_path = ARTIFACTS / "browser-restartable-server.log"
    log_path.unlink(missing_ok=True)
    port = _free_port()
    server = RestartableServer(
        f"http://127.0.0.1:{port}",
        live_server.engine,
        _gunicorn(port, live_server.env, log_path),
        log_path,
        live_server.env,
    )
    try:
        _wait_ready(server)
        yield server
    finally:
        _end(server.process)


@pytest.fixture
def full_server(live_server: LiveServer) -> Iterator[LiveServer]:
    """A second gunicorn on the live server's database and Redis whose streams are all taken
    (`SCREEN_STREAMS_MAX=0`): it refuses every stream with a 503, and TVs poll `/live`."""
    port = _free_port()
    env = {**live_server.env, "SCREEN_STREAMS_MAX": "0"}
    log_path = ARTIFACTS / "browser-full-server.log"
    log_path.unlink(missing_ok=True)
    process = _gunicorn(port, env, log_path)
    server = LiveServer(f"http://127.0.0.1:{port}", live_server.engine, process, log_path, env)
    try:
        _wait_ready(server)
        yield server
    finally:
        _end(server.process)


def _wait_ready(server: LiveServer, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(f"gunicorn exited; see {server.log_path}")
        try:
            with urllib.request.urlopen(server.url("/readyz"), timeout=2) as answer:
                if answer.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.3)
    raise RuntimeError(f"gunicorn did not get ready; see {server.log_path}")


@pytest.fixture
def browser(chromium_ready: None) -> Iterator[Any]:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    options.add_argument("--window-size=1920,1080")
    options.add_argument("--lang=nb-NO")  # a Norwegian store's PC
    options.add_experimental_option(
        "prefs",
        {
            "download.default_directory": str(ARTIFACTS / "downloads"),
            "intl.accept_languages": "nb-NO,nb,en",
        },
    )
    driver = webdriver.Chrome(options=options, service=Service(executable_path=CHROMEDRIVER))
    driver.set_page_load_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture
def browser_data(live_server: LiveServer) -> Iterator[Session]:
    """A session on the browser server's database: what it adds is committed for the server."""
    with Session(live_server.engine, expire_on_commit=False) as session:
        yield session


def screenshot(driver: Any, name: str) -> Path:
    path = ARTIFACTS / f"{name}.png"
    driver.save_screenshot(str(path))
    return path


def wait_for(condition: Any, timeout: float = 45, interval: float = 0.25) -> Any:
    """Poll `condition()` until it is truthy (the page updates by itself)."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = condition()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"not reached within {timeout} s (last: {last!r})")
