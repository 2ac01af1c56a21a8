"""Counting the calls of a function the code under test looks up by name."""

from __future__ import annotations

from typing import Any


def count_calls(monkeypatch: Any, owner: Any, name: str) -> list[int]:
    """Wrap `owner.<name>` for this test; each call appends to the returned list."""
    calls: list[int] = []
    original = getattr(owner, name)

    def counting(*args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        return original(*args, **kwargs)

    monkeypatch.setattr(owner, name, counting)
    return calls
