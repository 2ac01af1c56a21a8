"""Requests that gunicorn reads before the app: under `gunicorn.conf.py` a long request line
or a 20 KB Authorization header reach the app, and what gunicorn still refuses itself
(longer still, control characters in a header) is problem+json too, never an HTML page.

A real gunicorn with the project's configuration, started here on a free port."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="module")
def server(app) -> Iterator[int]:
    port = _free_port()
    env = {
        **os.environ,
        "BIND": f"127.0.0.1:{port}",
        "WEB_CONCURRENCY": "1",
        "DATABASE_URL": os.environ.get("DATABASE_URL") or str(app.extensions["engine"].url),
        "REDIS_URL": app.config["REDIS_URL"],
        "SECRET_KEY": app.config["SECRET_KEY"],
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "wsgi:app"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        for _ in range(300):  # until it answers (booting the app takes a few seconds)
            try:
                if _send(port, b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")[0] == 200:
                    break
            except OSError:
                time.sleep(0.1)
        else:
            pytest.fail("gunicorn did not start")
        yield port
    finally:
        process.terminate()
        process.wait(timeout=30)


def _send(port: int, raw: bytes) -> tuple[int, dict[str, str], bytes]:
    """One raw HTTP/1.1 exchange: (status, headers, body)."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as connection:
        connection.sendall(raw)
        data = b""
        while chunk := connection.recv(65536):
            data += chunk
            head, _, body = data.partition(b"\r\n\r\n")
            length = next(
                (
                    int(line.split(b":", 1)[1])
                    for line in head.split(b"\r\n")
                    if line.lower().startswith(b"content-length:")
                ),
                None,
            )
            if length is not None and len(body) >= length:
                break
    head, _, body = data.partition(b"\r\n\r\n")
    status_line, *lines = head.decode("latin-1").split("\r\n")
    headers = {name.lower(): value.strip() for name, _, value in (x.partition(":") for x in lines)}
    return int(status_line.split()[1]), headers, body


def _request(target: str, *headers: str) -> bytes:
    lines = [f"GET {target} HTTP/1.1", "Host: localhost", "Connection: close", *headers]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def _problem(response: tuple[int, dict[str, str], bytes], status: int) -> dict[str, object]:
    got, headers, body = response
    assert got == status, body
    assert headers["content-type"].startswith("application/problem+json")
    problem = json.loads(body)
    assert problem["status"] == status and problem["title"] and problem["detail"]
    assert b"<html" not in body.lower()
    return problem


def test_a_request_line_over_4094_bytes_reaches_the_app(server):
    padding = "x" * 6000
    assert _send(server, _request(f"/healthz?pad={padding}"))[0] == 200
    _problem(_send(server, _request(f"/api/v1/modules?pad={padding}")), 401)


def test_a_20_kb_authorization_header_reaches_the_app(server):
    response = _send(server, _request("/api/v1/me", "Authorization: Bearer " + "a" * 20_000))
    _problem(response, 401)


def test_a_request_line_longer_than_gunicorn_takes_is_a_414_problem(server):
    _problem(_send(server, _request("/healthz?pad=" + "x" * 9000)), 414)


def test_a_header_larger_than_gunicorn_takes_is_a_431_problem(server):
    _problem(_send(server, _request("/api/v1/me", "Authorization: Bearer " + "a" * 40_000)), 431)


@pytest.mark.parametrize("value", ["a\x01b", "a\x00b", "a\x7fb"])
def test_control_characters_in_a_header_are_a_400_problem(server, value):
    _problem(_send(server, _request("/healthz", f"X-Note: {value}")), 400)


def test_a_chunked_body_over_the_limit_is_a_413_problem(server):
    chunk = b"x" * 65536
    body = b"".join(b"%x\r\n%s\r\n" % (len(chunk), chunk) for _ in range(40)) + b"0\r\n\r\n"
    raw = (
        b"POST /api/v1/auth/login HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n"
        b"Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n" + body
    )
    _problem(_send(server, raw), 413)
