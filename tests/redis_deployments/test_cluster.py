"""The learner's journey, the boards, the limits and cache invalidation on a Redis Cluster of
three primaries; a restart of the node that holds an organisation loses no answer or point."""

from __future__ import annotations

import json

from sqlalchemy import func, select

from app import caching
from app.gamification.models import PointAward
from app.leaderboards import store
from app.leaderboards.models import BoardRepair
from app.learning.models import Answer
from app.redis_connections import is_cluster
from tests import factories
from tests.conftest import auth_headers
from tests.gamification.play import play
from tests.leaderboards.test_board_property import (
    brute_force,
    department_parents,
    redis_boards,
)
from tests.leaderboards.test_resilience import ledger_rows
from tests.redis_deployments.conftest import use_redis_url

USERS = "/api/v1/leaderboards/users"


def test_the_learners_journey_and_the_boards_on_a_cluster(
    app, client, session, org, module, learner, colleague, monkeypatch, cluster
):
    redis_client = use_redis_url(app, monkeypatch, cluster.url)
    assert is_cluster(redis_client)
    login = client.post(
        "/api/v1/auth/login",
        json={
            "organization": org.slug,
            "username": learner.username,
            "password": factories.PASSWORD,
        },
    )
    assert login.status_code == 200, login.json
    as_learner = {"Authorization": f"Bearer {login.json['access_token']}"}
    assert client.get("/api/v1/paths/current", headers=as_learner).status_code == 200
    done = play(client, session, module, as_learner)
    other = play(client, session, module, auth_headers(session, colleague), wrong=1)

    board = client.get(USERS, headers=as_learner).json
    assert [e["score"] for e in board["entries"]] == [done["points_total"], other["points_total"]]
    assert board["me"] == {"rank": 1, "score": done["points_total"]}
    assert redis_boards(redis_client, org.id) == brute_force(
        ledger_rows(session, org.id), org.timezone, department_parents(session, org.id)
    )
    # Every key of the organisation sits in one slot: its scripts and transactions are legal.
    slots = {
        int(cluster.nodes[0].client().execute_command("CLUSTER", "KEYSLOT", name))
        for name in redis_client.scan_iter(match=f"nl:*{org.id}*")
    }
    assert len(slots) == 1


def test_a_rebuild_swaps_every_board_in_on_a_cluster(
    app, client, session, org, module, learner, as_learner, monkeypatch, cluster
):
    from app.leaderboards import service

    redis_client = use_redis_url(app, monkeypatch, cluster.url)
    play(client, session, module, as_learner)
    redis_client.delete(*redis_client.scan_iter(match=f"nl:{{{org.id}}}:users:*"))
    assert service.rebuild_all(session, now=org_now(), client=redis_client) >= 1
    assert redis_boards(redis_client, org.id) == brute_force(
        ledger_rows(session, org.id), org.timezone, department_parents(session, org.id)
    )


def org_now():
    from app import clock

    return clock.now()


def test_login_limits_count_on_a_cluster(app, client, org, learner, monkeypatch, cluster):
    use_redis_url(app, monkeypatch, cluster.url)
    body = {"organization": org.slug, "username": learner.username, "password": "wrong"}
    statuses = [client.post("/api/v1/auth/login", json=body).status_code for _ in range(15)]
    assert 401 in statuses
    assert statuses[-1] == 429  # the per-account limit (10 a minute) is counted in the cluster


def test_cache_invalidation_reaches_a_process_subscribed_to_another_node(app, cluster):
    # Two clients that enter the cluster at different nodes: a publish through one reaches a
    # subscriber on the other (pub/sub is cluster-wide).
    from app.redis_connections import client_options, redis_from_url

    first = redis_from_url(f"redis+cluster://127.0.0.1:{cluster.nodes[0].port}", **client_options())
    second = redis_from_url(
        f"redis+cluster://127.0.0.1:{cluster.nodes[2].port}", **client_options()
    )
    listener = second.pubsub()
    listener.subscribe(caching.channel(second))
    assert listener.get_message(timeout=2)["type"] == "subscribe"
    first.publish(caching.channel(first), json.dumps({"cache": "x", "keys": ["k"]}))
    message = listener.get_message(timeout=2)
    assert message is not None and json.loads(message["data"]) == {"cache": "x", "keys": ["k"]}
    listener.close()


def test_a_node_restart_loses_no_answer_and_no_point(
    app, client, session, org, module, learner, colleague, monkeypatch, cluster, frozen_clock
):
    redis_client = use_redis_url(app, monkeypatch, cluster.url)
    as_learner = auth_headers(session, learner)
    first = play(client, session, module, as_learner)
    node = cluster.node_serving(store.built_key(org.id))

    node.stop()  # the organisation's slot is gone while the node is down
    frozen_clock.advance(minutes=5)
    as_colleague = auth_headers(session, colleague)
    during = play(client, session, module, as_colleague)  # answers are committed all the same
    assert during["points_total"] > 0
    assert session.get(BoardRepair, org.id) is not None  # its boards are marked for repair
    node.start()
    cluster.wait_healthy()

    after = client.get(USERS, headers=as_colleague).json  # the read repairs them
    assert {e["user"]["display_name"]: e["score"] for e in after["entries"]} == {
        "Learner": first["points_total"],
        "Colleague": during["points_total"],
    }
    assert session.get(BoardRepair, org.id) is None
    answers = session.scalar(select(func.count()).select_from(Answer))
    assert answers == len(first["answer_points"]) + len(during["answer_points"])
    ledger = session.scalar(select(func.sum(PointAward.points)).where(PointAward.org_id == org.id))
    assert ledger == first["points_total"] + during["points_total"]
    assert redis_boards(redis_client, org.id) == brute_force(
        ledger_rows(session, org.id), org.timezone, department_parents(session, org.id)
    )


def test_one_commit_for_several_organisations_updates_each_on_its_own_node(cluster):
    # A job's commit may pay several organisations at once; their keys lie in other slots.
    from datetime import UTC, datetime

    from app.leaderboards import rules
    from app.redis_connections import client_options, redis_from_url

    client = redis_from_url(cluster.url, **client_options())
    period = rules.period_at("week", datetime(2026, 11, 25, tzinfo=UTC), "Europe/Oslo")
    orgs = [f"org-{index}" for index in range(6)]
    assert len({cluster.node_serving(store.built_key(org)).port for org in orgs}) > 1
    store.apply_increments(
        client, [store.Increment(org, "users:org", period, "someone", 5, 10) for org in orgs]
    )
    boards = [store.key(org, "users:org", "week", period.key) for org in orgs]
    assert [client.zscore(board, "someone") for board in boards] == [
        5 * rules.FACTOR["week"] + 10
    ] * len(orgs)
