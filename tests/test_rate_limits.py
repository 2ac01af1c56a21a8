"""The request limits: the general per-caller budget, counted locally up to a share, then in
Redis; the login limits, shared in Redis and per process while Redis is down."""

from __future__ import annotations

from app.rate_limits import LOCAL_SHARE, RequestBudget, Rule, ViewLimits
from tests.own_redis import dead_redis


def test_a_caller_under_the_local_share_costs_no_round_trip(redis_client, monkeypatch):
    budget = RequestBudget("100/minute", redis_client)
    sent: list[tuple] = []
    original = redis_client.connection_pool.get_connection
    monkeypatch.setattr(
        redis_client.connection_pool,
        "get_connection",
        lambda *args, **kwargs: sent.append(args) or original(*args, **kwargs),
    )
    for _ in range(int(100 * LOCAL_SHARE)):
        assert budget.spend("user:a") is None
    assert sent == []
    assert budget.spend("user:a") is None  # beyond the share: counted in Redis
    assert sent


def test_processes_share_the_limit_beyond_their_local_shares(redis_client):
    # Two processes' budgets over one Redis: each admits its local share, then the shared
    # counter refuses once the limit is spent.
    first, second = (
        RequestBudget("20/minute", redis_client),
        RequestBudget("20/minute", redis_client),
    )
    admitted = 0
    for _ in range(30):
        for budget in (first, second):
            if budget.spend("user:b") is None:
                admitted += 1
    assert admitted == 20 + 2 * int(20 * LOCAL_SHARE)
    wait = first.spend("user:b")
    assert wait is not None and 0 < wait <= 60
    assert first.spend("user:someone-else") is None  # per caller


def test_redis_down_counts_nothing_and_refuses_nothing(tmp_path):

    unreachable = dead_redis()
    budget = RequestBudget("10/minute", unreachable)
    assert all(budget.spend("user:c") is None for _ in range(50))


def test_over_the_limit_the_api_answers_429_with_retry_after(
    app, client, redis_client, as_learner, monkeypatch
):
    monkeypatch.setitem(app.extensions, "request_budget", RequestBudget("20/minute", redis_client))
    statuses = [client.get("/api/v1/me", headers=as_learner).status_code for _ in range(22)]
    assert statuses == [200] * (20 + int(20 * LOCAL_SHARE))
    refused = client.get("/api/v1/me", headers=as_learner)
    assert refused.status_code == 429
    assert refused.mimetype == "application/problem+json"
    assert 0 < int(refused.headers["Retry-After"]) <= 60
    assert client.get("/healthz").status_code == 200  # probes are never counted


def test_probes_and_shared_images_are_not_counted(app, client, redis_client, monkeypatch):
    monkeypatch.setitem(app.extensions, "request_budget", RequestBudget("5/minute", redis_client))
    allowed = 5 + max(1, int(5 * LOCAL_SHARE))  # the shared count after this process's share
    for _ in range(allowed):  # from one address, as many as the API allows it
        assert [client.get(path).status_code for path in ("/healthz", "/readyz")] == [200, 200]
        assert client.get("/media/no-such-file.png").status_code == 404
    # The API from the same address is counted, from its first request.
    statuses = [client.get("/api/v1/modules").status_code for _ in range(allowed + 1)]
    assert statuses == [401] * allowed + [429]


def _rule(limit: str, key: str = "ip:10.0.0.1") -> Rule:
    return Rule("login-test", lambda: limit, lambda: key)


def test_a_login_limit_is_exact_across_processes(redis_client):
    # No local share here: two processes' counters over one Redis admit the limit, no more.
    first, second = ViewLimits(redis_client), ViewLimits(redis_client)
    rule = _rule("5/minute")
    verdicts = [counters.spend(rule) for _ in range(4) for counters in (first, second)]
    assert verdicts[:5] == [None] * 5
    assert all(wait is not None and 0 < wait <= 60 for wait in verdicts[5:])
    assert first.spend(_rule("5/minute", "ip:10.0.0.2")) is None  # per key


def test_with_redis_down_a_login_limit_is_counted_in_the_process():
    counters = ViewLimits(dead_redis())
    rule = _rule("3/minute")
    verdicts = [counters.spend(rule) for _ in range(4)]
    assert verdicts[:3] == [None] * 3
    assert verdicts[3] is not None and 0 < verdicts[3] <= 60
