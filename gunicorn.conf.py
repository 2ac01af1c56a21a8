"""Production defaults for `gunicorn wsgi:app`; the command line overrides any of them."""

import json
import multiprocessing
import os
import socket
import tempfile

import gunicorn.util

# Same spelling as the app's problems (app/errors.py), without importing the app here.
PROBLEM_BASE = "https://nanolearn.example/problems/"
PROBLEM_MIMETYPE = "application/problem+json"

bind = os.environ.get("BIND", "0.0.0.0:8000")
workers = int(os.environ.get("WEB_CONCURRENCY", multiprocessing.cpu_count() * 2))
worker_class = os.environ.get("GUNICORN_WORKER_CLASS", "sync")
# The store screens' process (docs/screens.md, "Serving the streams"): the gthread worker
# class and a thread per open event stream (SCREEN_STREAMS_MAX) plus some for pages and /live. The
# gthread worker tells the arbiter it is alive from its own loop, not between requests, so
# `timeout` does not cut a long stream; it holds at most `worker_connections` connections.
threads = int(os.environ.get("GUNICORN_THREADS", 1))
worker_connections = int(os.environ.get("GUNICORN_WORKER_CONNECTIONS", 1000))
timeout = int(os.environ.get("GUNICORN_TIMEOUT", 30))
graceful_timeout = 20
keepalive = 5
# Recycle workers now and then so a slow leak cannot grow forever, but rarely: a new worker
# starts with empty caches (logins, published versions, week structures), and at a
# thousand requests a second 5 000 requests was a restart every few seconds. The jitter is
# wide because a worker takes over a second to boot: with 20 000, both workers of a
# two-worker box were seen restarting in the same second, and nobody answered meanwhile.
max_requests = 200_000
max_requests_jitter = 100_000
accesslog = None  # the app writes one structured access line per request itself

# Prometheus metrics in multi-process mode (`app/metrics.py`): each worker writes its counters
# to files in this folder and a scrape of /metrics by any worker adds them all up. Set here,
# in the master, so every worker inherits it before the app is imported.
os.environ.setdefault("PROMETHEUS_MULTIPROC_DIR", tempfile.mkdtemp(prefix="nanolearn-metrics-"))


def on_starting(server):
    """Start from empty metric files: counters restart with the server, as Prometheus expects."""
    folder = os.environ["PROMETHEUS_MULTIPROC_DIR"]
    os.makedirs(folder, exist_ok=True)
    for name in os.listdir(folder):
        if name.endswith(".db"):
            os.remove(os.path.join(folder, name))


def child_exit(server, worker):
    """A worker that exits takes its live gauges with it (its counters stay in the sum)."""
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)


# What the app reads, gunicorn must let through: a long query string (cursors, filters) and a
# 20 KB Authorization header reach the app, which answers in its own problem+json. 8190 is
# the longest request line gunicorn takes short of "unlimited".
limit_request_line = int(os.environ.get("GUNICORN_LIMIT_REQUEST_LINE", 8190))
limit_request_field_size = int(os.environ.get("GUNICORN_LIMIT_REQUEST_FIELD_SIZE", 32768))


def _problem_error(sock: socket.socket, status_int: int, reason: str, mesg: str) -> None:
    """What gunicorn still refuses before the app (a longer request line or header, control
    characters in a header, a malformed request) is answered as RFC 9457 problem+json, as
    everything else is, instead of gunicorn's HTML page."""
    body = json.dumps(
        {
            "type": PROBLEM_BASE + reason.lower().replace(" ", "-"),
            "title": reason,
            "status": status_int,
            "detail": mesg or reason,
        }
    ).encode()
    head = (
        f"HTTP/1.1 {status_int} {reason}\r\nConnection: close\r\n"
        f"Content-Type: {PROBLEM_MIMETYPE}\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    gunicorn.util.write_nonblock(sock, head.encode("latin-1") + body)


# Workers call `gunicorn.util.write_error` for every request they refuse themselves,
# whichever worker class runs; they are forked from this process and inherit the change.
gunicorn.util.write_error = _problem_error
