"""JSON bodies through orjson, with Flask's output where the two would differ."""

from __future__ import annotations

from datetime import UTC, datetime

from flask import Flask

from app.json_provider import OrjsonProvider


def _provider(debug: bool = False) -> OrjsonProvider:
    app = Flask(__name__)
    app.debug = debug
    return OrjsonProvider(app)


def test_text_is_utf8_and_keys_keep_their_order():
    body = _provider().response({"tittel": "Rømme og brød", "a": 1}).get_data()
    assert body == '{"tittel":"Rømme og brød","a":1}\n'.encode()


def test_datetimes_are_spelled_as_flask_spells_them():
    moment = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
    assert _provider().dumps({"at": moment}) == '{"at":"Mon, 23 Nov 2026 12:00:00 GMT"}'


def test_what_orjson_refuses_falls_back_to_the_standard_library():
    provider = _provider()
    assert provider.loads(provider.dumps({1: "one", "big": 2**70})) == {"1": "one", "big": 2**70}


def test_debug_responses_stay_indented():
    assert _provider(debug=True).response({"a": 1}).get_data() == b'{\n  "a": 1\n}\n'
