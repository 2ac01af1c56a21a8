"""Query strings are parsed once per process and schema; a bad one is a 422 every time."""

from __future__ import annotations

import marshmallow as ma
from flask import Flask

from app.blueprints import QueryRememberingParser
from app.leaderboards.schemas import UserBoardArgsSchema
from tests.spies import count_calls


class _PageArgs(ma.Schema):
    limit = ma.fields.Integer(load_default=20)
    tags = ma.fields.List(ma.fields.String(), load_default=list)


def test_the_same_query_string_is_loaded_once(client, as_learner, monkeypatch):
    loads = count_calls(monkeypatch, UserBoardArgsSchema, "load")
    url = "/api/v1/leaderboards/users?scope=organization&limit=37"
    first = client.get(url, headers=as_learner)
    second = client.get(url, headers=as_learner)
    assert first.status_code == second.status_code == 200
    assert first.get_json() == second.get_json()
    assert len(loads) == 1
    client.get("/api/v1/leaderboards/users?scope=organization&limit=38", headers=as_learner)
    assert len(loads) == 2


def test_a_bad_query_string_is_refused_every_time(client, as_learner):
    for _ in range(2):
        response = client.get("/api/v1/leaderboards/users?limit=0", headers=as_learner)
        assert response.status_code == 422
        assert "limit" in response.get_json()["errors"]


def test_a_view_changing_its_arguments_does_not_change_the_next_requests():
    parser = QueryRememberingParser()
    schema = _PageArgs(only=("limit",))
    app = Flask(__name__)
    with app.test_request_context("/?limit=5"):
        parsed = parser.parse(schema, location="query")
        parsed["limit"] = 99
        parsed["extra"] = True
        assert parser.parse(schema, location="query") == {"limit": 5}


def test_results_with_mutable_values_are_not_remembered(monkeypatch):
    parser = QueryRememberingParser()
    schema = _PageArgs()
    loads = count_calls(monkeypatch, _PageArgs, "load")
    app = Flask(__name__)
    with app.test_request_context("/?tags=a"):
        parser.parse(schema, location="query")["tags"].append("b")
        assert parser.parse(schema, location="query")["tags"] == ["a"]
    assert len(loads) == 2
