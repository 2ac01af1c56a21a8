from __future__ import annotations

from collections.abc import Iterator

import pytest
from flask import Flask

from app.notifications.push import FakePushSender


@pytest.fixture
def push(app: Flask, monkeypatch: pytest.MonkeyPatch) -> FakePushSender:
    """Every push the app would send, recorded instead of sent."""
    fake = FakePushSender()
    monkeypatch.setitem(app.extensions, "push_sender", fake)
    return fake


@pytest.fixture
def fake_fcm() -> Iterator[object]:
    from tests.notifications.fake_fcm import FakeFcm

    server = FakeFcm().start()
    yield server
    server.stop()
