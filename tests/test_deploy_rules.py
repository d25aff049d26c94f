"""Rules AWS applies at deploy time or after, each encoded as a test over both stacks' graphs."""

from __future__ import annotations

import pytest

from naming import NODE_GROUPS, PHYSICAL_NAMES
from settings import SettingsError, parse
from testing.harness import run_program
from testing.invented import ACCOUNT
from tests.conftest import StackGraph, raw_settings

METHOD = "aws:apigateway/method:Method"


def test_only_the_health_route_is_open_and_orders_need_a_signed_caller(stack: StackGraph) -> None:
    """API Gateway runs IAM authorization on a method whose `authorization` is AWS_IAM: the
    caller must sign with SigV4 credentials allowed `execute-api:Invoke`
    (https://docs.aws.amazon.com/apigateway/latest/developerguide/permissions.html). Route 53
    health checkers send unsigned requests
    (https://docs.aws.amazon.com/Route53/latest/DeveloperGuide/dns-failover-determining-health-of-endpoints.html),
    so GET /health alone stays open."""
    methods = stack.of_type(METHOD)
    open_methods = [m for m in methods if m.inputs["authorization"] == "NONE"]
    assert [(m.name, m.inputs["httpMethod"]) for m in open_methods] == [
        (f"{stack.name}-health-get", "GET")
    ]
    health = stack.one("aws:apigateway/resource:Resource", f"{stack.name}-health")
    assert health.inputs["pathPart"] == "health"
    integration = stack.one("aws:apigateway/integration:Integration", f"{stack.name}-health-get")
    assert integration.inputs["uri"].endswith("/health")
    assert all(m.inputs["authorization"] == "AWS_IAM" for m in methods if m not in open_methods)


def test_a_deliberately_public_api_is_a_config_switch() -> None:
    gateway = {**raw_settings("primary").get("gateway", {}), "authorization": "none"}
    graph = run_program("primary", {"trading:gateway": gateway})
    assert {m.inputs["authorization"] for m in graph.of_type(METHOD)} == {"NONE"}


@pytest.mark.parametrize("label, shared", [("public", True), ("regional", False)])
def test_the_shared_validation_record_outlives_either_stack(
    stack: StackGraph, label: str, shared: bool
) -> None:
    """ACM gives one DNS validation CNAME per domain name, so both stacks' certificates for the
    failover name validate with the same record, and ACM renews a DNS-validated certificate only
    while that record stays in DNS
    (https://docs.aws.amazon.com/acm/latest/userguide/dns-renewal-validation.html). Destroying
    one stack must leave it; each region's own name is that stack's alone."""
    record = stack.one("aws:route53/record:Record", f"{stack.name}-{label}-validation")
    assert record.retain_on_delete is shared
    assert bool(record.inputs.get("allowOverwrite")) is shared


def test_every_physical_name_is_named_as_its_table_row_says(
    stack: StackGraph, rds_primary: StackGraph, rds_dr: StackGraph
) -> None:
    """naming.PHYSICAL_NAMES is what settings checks lengths with: each row's name must be the
    one the program gives (the account id is the mocked one), on the stack files' Aurora tier
    or on the PostgreSQL one, whichever renders that resource."""
    cluster = f"trading-{stack.name}"
    rds = {"primary": rds_primary, "dr": rds_dr}[stack.name]
    for rule in PHYSICAL_NAMES:
        found = {str(r.inputs.get(rule.prop)) for g in (stack, rds) for r in g.of_type(rule.type)}
        wanted = {rule.render(cluster, account=ACCOUNT, group=g) for g in NODE_GROUPS}
        if "failover" in rule.template and stack.name == "primary":
            continue  # the failover automation lives in dr only
        assert found & wanted, (rule.what, sorted(found))


def test_a_prefix_that_overflows_a_load_balancer_name_is_refused() -> None:
    """NLB and target group names are at most 32 characters (CreateLoadBalancer,
    https://docs.aws.amazon.com/elasticloadbalancing/latest/APIReference/API_CreateLoadBalancer.html):
    `<prefix>-primary-gateway` fits only with a prefix of at most 16."""
    raw = {**raw_settings("primary"), "namePrefix": "a" * 17}
    with pytest.raises(SettingsError) as caught:
        parse(raw)
    assert caught.value.problems[0].startswith(
        "trading:namePrefix = 'aaaaaaaaaaaaaaaaa' is not valid; allowed: a shorter prefix: "
        "the network load balancer name 'aaaaaaaaaaaaaaaaa-primary-gateway' would be 33 "
        "characters, over the 32 allowed"
    )
    assert parse({**raw_settings("primary"), "namePrefix": "a" * 16}).name_prefix == "a" * 16


def _receivers_named(route: dict) -> set[str]:
    named = {route["receiver"]} if "receiver" in route else set()
    for child in route.get("routes", []):
        named |= _receivers_named(child)
    return named


def test_alertmanager_routes_only_to_receivers_it_defines(stack: StackGraph) -> None:
    """Alertmanager refuses a configuration whose route names an undefined receiver
    (https://prometheus.io/docs/alerting/latest/configuration/#route). Helm merges our values
    into the chart's maps but replaces its lists
    (https://helm.sh/docs/chart_template_guide/values_files/), and kube-prometheus-stack's default
    `alertmanager.config.route` holds a `routes` list that sends Watchdog to a `null` receiver:
    our `route` and `receivers` must therefore set every list the chart's route holds."""
    release = next(
        r
        for r in stack.of_type("kubernetes:helm.sh/v3:Release")
        if r.inputs["chart"] == "kube-prometheus-stack"
    )
    config = release.inputs["values"]["alertmanager"]["config"]
    assert "routes" in config["route"], "our route must replace the chart's default routes"
    defined = {receiver["name"] for receiver in config["receivers"]}
    assert _receivers_named(config["route"]) <= defined
    assert config["route"]["receiver"] == "sns"
