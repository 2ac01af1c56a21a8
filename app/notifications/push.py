"""The push adapter: a `PushSender` protocol, FCM through firebase-admin, a logger and a fake."""

from __future__ import annotations

import json
import logging
import threading
import uuid
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal, Protocol

from flask import current_app

log = logging.getLogger(__name__)

FCM_BATCH_LIMIT = 500  # send_each refuses more

Outcome = Literal["sent", "dead_token", "retry", "failed"]

# FCM error codes after which a token will never work again, and those worth another try.
DEAD_TOKEN_CODES = {"UNREGISTERED", "SENDER_ID_MISMATCH"}
RETRY_CODES = {"UNAVAILABLE", "INTERNAL", "QUOTA_EXCEEDED"}


@dataclass(frozen=True)
class PushMessage:
    """One push to one device token."""

    token: str
    platform: str
    title: str
    body: str
    data: dict[str, str]
    collapse_key: str
    ttl_seconds: int
    urgent: bool = False


@dataclass(frozen=True)
class SendResult:
    token: str
    outcome: Outcome
    message_id: str | None = None
    error: str | None = None


class PushSender(Protocol):
    def send(self, messages: Sequence[PushMessage]) -> list[SendResult]:
        """Send each message; one result per message, in order. Never raises for one bad token."""
        ...


@dataclass
class FakePushSender:
    """Records what would be sent; tests script per-token outcomes in `outcomes`."""

    sent: list[PushMessage] = field(default_factory=list)
    outcomes: dict[str, Outcome] = field(default_factory=dict)
    down: bool = False
    calls: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def send(self, messages: Sequence[PushMessage]) -> list[SendResult]:
        with self._lock:
            self.calls += 1
            if self.down:
                return [SendResult(m.token, "retry", error="UNAVAILABLE") for m in messages]
            results = []
            for message in messages:
                outcome = self.outcomes.get(message.token, "sent")
                if outcome == "sent":
                    self.sent.append(message)
                results.append(
                    SendResult(
                        message.token,
                        outcome,
                        message_id=f"fake/{uuid.uuid4().hex}" if outcome == "sent" else None,
                        error=None if outcome == "sent" else outcome.upper(),
                    )
                )
            return results


class LoggingPushSender:
    """Used without Firebase credentials: logs each push (never the token) and reports it sent."""

    def send(self, messages: Sequence[PushMessage]) -> list[SendResult]:
        for message in messages:
            log.info(
                "push (not sent: no FCM credentials)",
                extra={"collapse_key": message.collapse_key, "title": message.title},
            )
        return [SendResult(m.token, "sent", message_id="logged") for m in messages]


class FcmPushSender:
    """Firebase Cloud Messaging HTTP v1 through firebase-admin's `messaging.send_each`."""

    def __init__(
        self,
        credentials_json: str | dict[str, Any],
        *,
        endpoint: str | None = None,
        http_retries: Any = None,
        timeout_seconds: float = 30,
    ) -> None:
        import firebase_admin
        from firebase_admin import credentials, messaging

        # firebase-admin 7 prefers installation ids (`fid`); the app registers FCM registration
        # tokens, which the HTTP v1 API still takes as `token`.
        warnings.filterwarnings(
            "ignore", message="Message.token is deprecated", category=DeprecationWarning
        )
        info = credentials_json
        if isinstance(info, str):
            info = json.loads(info) if info.lstrip().startswith("{") else _read_json(info)
        options = {"httpTimeout": timeout_seconds}
        self._app = firebase_admin.initialize_app(
            credentials.Certificate(info), options, name=f"nanolearn-{uuid.uuid4().hex}"
        )
        self._messaging = messaging
        service = messaging._get_messaging_service(self._app)
        if endpoint:
            # An FCM emulator or the tests' fake server; firebase-admin has no public option.
            service._fcm_url = (
                endpoint.rstrip("/") + f"/v1/projects/{self._app.project_id}/messages:send"
            )
        # send_each posts a batch's 500 messages from 500 threads, but requests keeps only 10
        # connections per host: most of every batch opened a connection (a TLS handshake with
        # FCM), dropped it and logged a warning. Keep one per thread of a batch.
        import requests

        session = service._client.session
        base = endpoint or "https://fcm.googleapis.com"
        retries = (
            http_retries if http_retries is not None else session.get_adapter(base).max_retries
        )
        session.mount(
            base,
            requests.adapters.HTTPAdapter(
                pool_connections=1, pool_maxsize=FCM_BATCH_LIMIT, max_retries=retries
            ),
        )

    def close(self) -> None:
        import firebase_admin

        firebase_admin.delete_app(self._app)

    def send(self, messages: Sequence[PushMessage]) -> list[SendResult]:
        results: list[SendResult] = []
        for start in range(0, len(messages), FCM_BATCH_LIMIT):
            batch = list(messages[start : start + FCM_BATCH_LIMIT])
            results.extend(self._send_batch(batch))
        return results

    def _send_batch(self, batch: list[PushMessage]) -> list[SendResult]:
        from firebase_admin import exceptions

        try:
            response = self._messaging.send_each([self.build(m) for m in batch], app=self._app)
        except exceptions.FirebaseError as error:
            # The whole batch failed (credentials could not be refreshed, FCM unreachable).
            log.warning("FCM batch failed: %s", error.code)
            return [SendResult(m.token, "retry", error=str(error.code)) for m in batch]
        return [
            self._result(message, item)
            for message, item in zip(batch, response.responses, strict=True)
        ]

    @staticmethod
    def _result(message: PushMessage, item: Any) -> SendResult:
        if item.success:
            return SendResult(message.token, "sent", message_id=item.message_id)
        return SendResult(message.token, classify(item.exception), error=error_code(item.exception))

    def build(self, message: PushMessage) -> Any:
        """The firebase-admin Message for one push."""
        m = self._messaging
        ttl = timedelta(seconds=max(message.ttl_seconds, 0))
        expires = int((datetime.now(UTC) + ttl).timestamp())
        return m.Message(
            token=message.token,
            notification=m.Notification(title=message.title, body=message.body),
            data=message.data,
            android=m.AndroidConfig(
                collapse_key=message.collapse_key,
                priority="high" if message.urgent else "normal",
                ttl=ttl,
            ),
            apns=m.APNSConfig(
                headers={
                    "apns-collapse-id": message.collapse_key,
                    "apns-priority": "10" if message.urgent else "5",
                    "apns-push-type": "alert",
                    "apns-expiration": str(expires),
                },
                payload=m.APNSPayload(aps=m.Aps(sound="default")),
            ),
            webpush=m.WebpushConfig(
                headers={
                    "TTL": str(int(ttl.total_seconds())),
                    "Urgency": "high" if message.urgent else "normal",
                    "Topic": message.collapse_key,
                }
            ),
        )


def error_code(exception: Any) -> str:
    """FCM's error code of a failed send: the FCM-specific one when there is one."""
    fcm = {
        "UnregisteredError": "UNREGISTERED",
        "SenderIdMismatchError": "SENDER_ID_MISMATCH",
        "QuotaExceededError": "QUOTA_EXCEEDED",
        "ThirdPartyAuthError": "THIRD_PARTY_AUTH_ERROR",
    }.get(type(exception).__name__)
    return fcm or str(getattr(exception, "code", "UNKNOWN"))


def classify(exception: Any) -> Outcome:
    """Dead token, worth a retry, or a permanent failure of this one message."""
    code = error_code(exception)
    if code in DEAD_TOKEN_CODES:
        return "dead_token"
    if code == "INVALID_ARGUMENT" and "token" in str(exception).lower():
        return "dead_token"  # "The registration token is not a valid FCM registration token"
    if code in RETRY_CODES:
        return "retry"
    return "failed"


def _read_json(path: str) -> dict[str, Any]:
    with open(path, encoding="utf-8") as handle:
        data: dict[str, Any] = json.load(handle)
        return data


def _setting(name: str) -> Any:
    return current_app.config.get(name) or None


def get_push_sender() -> PushSender:
    """The app's sender: FCM when FCM_CREDENTIALS is set, else the logging one (built once)."""
    sender: PushSender | None = current_app.extensions.get("push_sender")
    if sender is None:
        credentials_json = _setting("FCM_CREDENTIALS")
        if credentials_json:
            sender = FcmPushSender(credentials_json, endpoint=_setting("FCM_ENDPOINT"))
        else:
            sender = LoggingPushSender()
        current_app.extensions["push_sender"] = sender
    return sender
