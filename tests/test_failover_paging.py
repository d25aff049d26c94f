"""Manual failover is a page: the failover topic must have someone on it."""

from __future__ import annotations

import copy

import pytest

from settings import SettingsError, parse
from testing.harness import run_program
from tests.conftest import raw_settings


def failover_settings(**changes: object) -> dict:
    raw = copy.deepcopy(raw_settings("dr"))
    raw["failover"] = {**raw["failover"], **changes}
    return raw


def test_manual_mode_without_a_subscriber_is_refused() -> None:
    """In manual mode the handler only publishes "failover recommended" to the failover topic
    (README, Failover automation); SNS delivers a message to the topic's subscriptions only
    (https://docs.aws.amazon.com/sns/latest/dg/sns-create-subscribe-endpoint-to-topic.html),
    so a topic with none pages nobody."""
    with pytest.raises(SettingsError) as caught:
        parse(failover_settings(mode="manual", notifyEmails=[], notifyHttpsEndpoints=[]))
    (problem,) = caught.value.problems
    assert problem.startswith("trading:failover.notifyEmails = [] is not valid")
    assert "when failover.mode is manual" in problem


def test_a_paging_service_url_is_enough_and_a_bad_one_is_named() -> None:
    url = "https://events.pager.example.com/integration/abc123"
    parsed = parse(failover_settings(notifyEmails=[], notifyHttpsEndpoints=[url]))
    assert parsed.failover is not None
    assert parsed.failover.notify_https_endpoints == (url,)
    with pytest.raises(SettingsError) as caught:
        parse(failover_settings(notifyHttpsEndpoints=["http://insecure.example.com/hook"]))
    assert caught.value.problems == [
        "trading:failover.notifyHttpsEndpoints[0] = 'http://insecure.example.com/hook' is not "
        "valid; allowed: an https:// URL (a paging service)"
    ]


def test_every_configured_address_is_subscribed_to_the_failover_topic() -> None:
    url = "https://events.pager.example.com/integration/abc123"
    emails = raw_settings("dr")["failover"]["notifyEmails"]
    assert emails, "the dr stack file pages someone"
    graph = run_program(
        "dr",
        {"trading:failover": {**raw_settings("dr")["failover"], "notifyHttpsEndpoints": [url]}},
    )
    topic = graph.one("aws:sns/topic:Topic", "dr-failover-alerts")
    subscribed = {
        (s.inputs["protocol"], s.inputs["endpoint"])
        for s in graph.of_type("aws:sns/topicSubscription:TopicSubscription")
        if s.inputs["topic"] == topic.outputs["arn"]
    }
    assert subscribed == {("email", e) for e in emails} | {("https", url)}
