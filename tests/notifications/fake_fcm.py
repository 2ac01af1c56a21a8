"""A fake FCM HTTP v1 endpoint (and OAuth token endpoint) for driving the real firebase-admin.

Token prefixes script the answer: `dead-` UNREGISTERED, `mismatch-` SENDER_ID_MISMATCH,
`bad-` INVALID_ARGUMENT about the token, `busy-` UNAVAILABLE, `quota-` QUOTA_EXCEEDED,
`oops-` INTERNAL; anything else is accepted. `down = True` answers 503 to everything.
"""

from __future__ import annotations

import itertools
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

FCM_ERROR = "type.googleapis.com/google.firebase.fcm.v1.FcmError"

ANSWERS: dict[str, tuple[int, str, str | None, str]] = {
    "dead-": (404, "NOT_FOUND", "UNREGISTERED", "Requested entity was not found."),
    "mismatch-": (403, "PERMISSION_DENIED", "SENDER_ID_MISMATCH", "SenderId mismatch"),
    "bad-": (
        400,
        "INVALID_ARGUMENT",
        "INVALID_ARGUMENT",
        "The registration token is not a valid FCM registration token",
    ),
    "busy-": (503, "UNAVAILABLE", "UNAVAILABLE", "The service is currently unavailable."),
    "quota-": (429, "RESOURCE_EXHAUSTED", "QUOTA_EXCEEDED", "Quota exceeded."),
    "oops-": (500, "INTERNAL", "INTERNAL", "Internal error."),
}


class FakeFcm:
    def __init__(self) -> None:
        self.messages: list[dict[str, Any]] = []  # the `message` of every send request
        self.headers: list[dict[str, str]] = []
        self.token_requests = 0
        self.down = False
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length)
                if self.path == "/token":
                    with fake._lock:
                        fake.token_requests += 1
                    self._answer(
                        200,
                        {"access_token": "fake-access", "expires_in": 3600, "token_type": "Bearer"},
                    )
                    return
                body = json.loads(raw)
                message = body["message"]
                with fake._lock:
                    fake.messages.append(message)
                    fake.headers.append({k.lower(): v for k, v in self.headers.items()})
                    number = next(fake._ids)
                if fake.down:
                    self._error(503, "UNAVAILABLE", None, "down")
                    return
                for prefix, (status, kind, code, text) in ANSWERS.items():
                    if message["token"].startswith(prefix):
                        self._error(status, kind, code, text)
                        return
                project = self.path.split("/")[3]
                self._answer(200, {"name": f"projects/{project}/messages/{number}"})

            def _error(self, status: int, kind: str, code: str | None, text: str) -> None:
                error: dict[str, Any] = {"code": status, "message": text, "status": kind}
                if code and code not in ("INVALID_ARGUMENT", "UNAVAILABLE", "INTERNAL"):
                    error["details"] = [{"@type": FCM_ERROR, "errorCode": code}]
                self._answer(status, {"error": error})

            def _answer(self, status: int, payload: dict[str, Any]) -> None:
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        class Server(ThreadingHTTPServer):
            request_queue_size = 1024  # send_each opens up to 500 connections at once
            daemon_threads = True

        self.server = Server(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def start(self) -> FakeFcm:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def service_account(self) -> dict[str, Any]:
        """A service-account JSON with a freshly generated key and our token endpoint."""
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ).decode()
        return {
            "type": "service_account",
            "project_id": "nanolearn-test",
            "private_key_id": "test-key",
            "private_key": pem,
            "client_email": "push@nanolearn-test.iam.gserviceaccount.com",
            "client_id": "1",
            "token_uri": f"{self.url}/token",
        }
