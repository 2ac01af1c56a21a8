"""Production defaults for `gunicorn wsgi:app`; the command line overrides any of them."""

import multiprocessing
import os

bind = os.environ.get("BIND", "0.0.0.0:8000")
workers = int(os.environ.get("WEB_CONCURRENCY", multiprocessing.cpu_count() * 2))
worker_class = os.environ.get("GUNICORN_WORKER_CLASS", "sync")
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
