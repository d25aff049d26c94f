"""Settings: every stack file parses, and every bad value is refused naming key, value and rule."""

from __future__ import annotations

import copy
import json
from typing import Any

import pulumi
import pytest
import yaml

import settings
from settings import SettingsError, parse, reference
from settings.stack import given_keys
from testing.harness import ROOT, run_program
from tests.conftest import STACKS, raw_settings

DELETE = object()


def with_change(
    stack: str, path: str, value: Any, base: dict[str, Any] | None = None
) -> dict[str, Any]:
    """The stack's raw settings (or `base`) with one dotted path set (or removed when value is
    DELETE), creating absent parents."""
    raw = copy.deepcopy(base if base is not None else raw_settings(stack))
    *parents, leaf = path.split(".")
    node = raw
    for part in parents:
        node = node.setdefault(part, {})
    if value is DELETE:
        del node[leaf]
    else:
        node[leaf] = value
    return raw


def on_postgres(stack: str) -> dict[str, Any]:
    """The stack's raw settings on the RDS PostgreSQL replica tier instead of the stack files'
    Aurora global database."""
    return with_change(stack, "database.engine", "postgres")


def problems_of(raw: dict[str, Any]) -> list[str]:
    with pytest.raises(SettingsError) as caught:
        parse(raw)
    return caught.value.problems


@pytest.mark.parametrize("stack", STACKS)
def test_real_stack_files_parse(stack: str) -> None:
    parsed = parse(raw_settings(stack))
    assert parsed.role == stack
    assert set(parsed.capacity.profiles) == {"full", "pilot-light"}


def test_dr_keeps_the_full_profile_and_runs_the_pilot_light() -> None:
    dr = parse(raw_settings("dr"))
    assert dr.capacity.active_profile == "pilot-light"
    assert dr.capacity.full.node_groups["trading"].desired_size == 6
    assert dr.capacity.active.node_groups["trading"].desired_size == 1


def test_primary_and_dr_agree_on_the_full_profile() -> None:
    # Failover scales dr to its own copy of `full`: it must be the size primary really runs.
    assert parse(raw_settings("dr")).capacity.full == parse(raw_settings("primary")).capacity.full


@pytest.mark.parametrize(
    ("path", "value", "expected"),
    [
        ("role", "backup", "trading:role = 'backup' is not valid; allowed: primary | dr"),
        (
            "capacity.activeProfile",
            "half",
            "trading:capacity.activeProfile = 'half' is not valid; allowed: full | pilot-light",
        ),
        ("network.vpcCidr", "10.20.0/16", "trading:network.vpcCidr = '10.20.0/16'"),
        ("network.vpcCidr", "8.8.0.0/16", "a private IPv4 CIDR"),
        ("network.peerVpcCidr", "10.20.128.0/17", "does not overlap network.vpcCidr 10.20.0.0/16"),
        (
            "capacity.profiles.full.nodeGroups.trading.minSize",
            7,
            "'minSize': 7, 'desiredSize': 6, 'maxSize': 12} is not valid; "
            "allowed: minSize <= desiredSize <= maxSize",
        ),
        (
            "capacity.profiles.full.nodeGroups.trading.desiredSize",
            13,
            "allowed: minSize <= desiredSize <= maxSize",
        ),
        ("network.azCount", 5, "trading:network.azCount = 5 is not valid; allowed: at most 4"),
        ("network.azCount", 1, "allowed: a whole number from 2 to 6"),
        ("region", "mars-north-1", "trading:region = 'mars-north-1'"),
        ("peerRegion", "us-west-2", "a region other than trading:region (us-west-2)"),
        ("database.engine", "mysql", "allowed: postgres | aurora-postgresql"),
        ("database.instanceClass", "r7g.xlarge", "an RDS instance class like db.r7g.xlarge"),
        ("database.backupRetentionDays", 3, "backupRetentionDays = 3"),
        ("objectives.rtoSeconds", 3600, "a whole number from 60 to 900"),
        ("logRetentionDays", 42, "trading:logRetentionDays = 42"),
        ("eks.publicAccessCidrs", ["0.0.0.0/0"], "narrower than 0.0.0.0/0"),
        ("eks.adminRoleArns", ["admin"], "an IAM role ARN"),
        ("capacity.profiles.full.nodeGroups.trading.instanceTypes", [], "at least one EC2"),
        ("network.vpcCird", "10.0.0.0/16", "trading:network.vpcCird = '10.0.0.0/16'"),
        ("tags.aws:owner", "me", "not starting with aws:"),
    ],
)
def test_bad_value_names_key_value_and_rule(path: str, value: Any, expected: str) -> None:
    found = problems_of(with_change("dr", path, value))
    assert any(expected in problem for problem in found), found


ENGINE_VERSION_RULE = (
    'allowed: a major version only, digits like "16": minor upgrades are automatic '
    "(autoMinorVersionUpgrade), so RDS chooses and moves the minor"
)


@pytest.mark.parametrize(
    "version", ["16.4", "16.4.1", "v16", "16.", "", "latest", 16.4, None, True]
)
def test_engine_version_is_a_major_while_minor_upgrades_are_automatic(version: Any) -> None:
    """With automatic minor version upgrades RDS moves the minor in the maintenance window
    (RDS User Guide, "Automatic minor version upgrades for RDS for PostgreSQL") and the provider
    takes a version prefix, reporting the running version as engineVersionActual (Pulumi AWS
    `rds.Instance` engineVersion): a configured minor drifts back on every `up`, and old minors
    stop being offered. The program always upgrades minors, so only a major is accepted.
    https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/USER_UpgradeDBInstance.PostgreSQL.Minor.html
    https://www.pulumi.com/registry/packages/aws/api-docs/rds/instance/
    """
    assert settings.AUTO_MINOR_VERSION_UPGRADE
    for stack in STACKS:
        found = problems_of(
            with_change(stack, "database.engineVersion", version, on_postgres(stack))
        )
        assert found == [
            f"trading:database.engineVersion = {version!r} is not valid; {ENGINE_VERSION_RULE}"
        ]


def test_missing_engine_version_names_what_is_allowed() -> None:
    found = problems_of(
        with_change("primary", "database.engineVersion", DELETE, on_postgres("primary"))
    )
    assert found == [f"trading:database.engineVersion is required; {ENGINE_VERSION_RULE}"]


@pytest.mark.parametrize(("version", "major"), [("16", "16"), ("17", "17"), (16, "16")])
def test_a_major_engine_version_is_accepted(version: Any, major: str) -> None:
    for stack in STACKS:
        database = parse(
            with_change(stack, "database.engineVersion", version, on_postgres(stack))
        ).database
        assert database.engine_version == major
        assert database.major_version == major


def test_pilot_light_larger_than_full_is_refused() -> None:
    found = problems_of(
        with_change("dr", "capacity.profiles.pilot-light.nodeGroups.trading.desiredSize", 8)
    )
    assert found == [
        "trading:capacity.profiles.pilot-light.nodeGroups.trading.desiredSize = 8 is not valid; "
        "allowed: at most the full profile's desiredSize (6): a pilot light is never larger "
        "than full capacity"
    ]


@pytest.mark.parametrize("key", ["role", "region", "network", "capacity", "database", "objectives"])
def test_missing_required_key_is_named(key: str) -> None:
    found = problems_of(with_change("primary", key, DELETE))
    assert any(problem.startswith(f"trading:{key} is required") for problem in found), found


def test_missing_nested_key_is_named() -> None:
    found = problems_of(with_change("primary", "network.vpcCidr", DELETE))
    assert any(p.startswith("trading:network.vpcCidr is required") for p in found), found


def test_missing_profile_is_named() -> None:
    found = problems_of(with_change("dr", "capacity.profiles.full", DELETE))
    assert any(p.startswith("trading:capacity.profiles.full is required") for p in found), found


def test_every_problem_is_reported_at_once() -> None:
    raw = with_change("dr", "role", "backup")
    raw["logRetentionDays"] = 42
    assert len(problems_of(raw)) == 2


def test_bad_config_stops_the_program_before_any_resource() -> None:
    with pytest.raises(SettingsError, match=r"trading:network\.azCount = 9"):
        run_program("dr", {"trading:network": {**raw_settings("dr")["network"], "azCount": 9}})


def test_a_mistyped_key_stops_the_program_naming_it() -> None:
    with pytest.raises(SettingsError) as caught:
        run_program("dr", {"trading:capcity": {"active": "full"}})
    (problem,) = caught.value.problems
    assert problem.startswith("trading:capcity = ")
    assert "allowed: known keys role, region," in problem


def test_keys_the_language_host_passes_are_read_from_its_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The language host hands the stack's config to the program as PULUMI_CONFIG
    (engine/cmd/pulumi-language-python/main.go), not through `set_all_config`."""
    pulumi.runtime.set_all_config({})
    monkeypatch.setenv(
        "PULUMI_CONFIG",
        json.dumps({"trading:role": "dr", "trading:capcity": "{}", "aws:region": "x"}),
    )
    assert given_keys() == {"role", "capcity"}


def test_a_bad_secret_value_is_named_but_not_shown(monkeypatch: pytest.MonkeyPatch) -> None:
    """The error reaches the engine's output and CI logs: a value set with `--secret` is masked
    there, whether the secret keys come from the language host (PULUMI_CONFIG_SECRET_KEYS) or
    from set_all_config."""
    leaked = "hunter2-do-not-log"
    raw = raw_settings("dr")
    failover = {**raw.get("failover", {}), "notifyEmails": [leaked]}
    with pytest.raises(SettingsError) as caught:
        parse(raw | {"failover": failover}, frozenset({"failover"}))
    (problem,) = caught.value.problems
    assert problem.startswith("trading:failover.notifyEmails[0] = [secret] is not valid")
    assert leaked not in str(caught.value)

    config = {
        f"trading:{k}": json.dumps(v) if not isinstance(v, str) else v for k, v in raw.items()
    }
    config["trading:failover"] = json.dumps(failover)
    monkeypatch.setenv("PULUMI_CONFIG_SECRET_KEYS", json.dumps(["trading:failover"]))
    pulumi.runtime.set_all_config(config, [])
    with pytest.raises(SettingsError) as caught:
        settings.load()
    assert leaked not in str(caught.value)
    assert "trading:failover.notifyEmails[0] = [secret]" in str(caught.value)

    # What the language host sets when no key is secret.
    monkeypatch.setenv("PULUMI_CONFIG_SECRET_KEYS", "null")
    with pytest.raises(SettingsError) as caught:
        settings.load()
    assert leaked in str(caught.value)


def test_defaults_apply_when_optional_keys_are_absent() -> None:
    raw = raw_settings("primary")
    for optional in ("tags", "logRetentionDays", "namePrefix"):
        raw.pop(optional, None)
    raw["eks"] = {"publicAccessCidrs": ["203.0.113.0/24"]}
    parsed = parse(raw)
    assert parsed.eks.version == "1.35"
    assert parsed.eks.admin_role_arns == parsed.eks.deploy_role_arns == ()
    assert parsed.eks.deployer_inside_vpc is False
    assert parsed.log_retention_days == 90
    assert parsed.cluster_name == "trading-primary"


def test_a_stack_with_no_path_to_its_cluster_api_is_refused() -> None:
    """Private endpoint only, and no statement that `pulumi up` runs inside the VPC: nothing
    could install the stack's Helm releases (EKS endpoint access:
    https://docs.aws.amazon.com/eks/latest/userguide/cluster-endpoint.html)."""
    raw = raw_settings("primary")
    raw["eks"] = {"publicAccessCidrs": []}
    assert problems_of(raw) == [
        "trading:eks.publicAccessCidrs = [] is not valid; allowed: the egress CIDRs of the "
        "machines that run `pulumi up` and `pulumi preview`, or eks.deployerInsideVpc: true "
        "once they run inside this VPC (never for the first `pulumi up`, which creates the VPC)"
    ]


def test_pulumi_yaml_documents_every_key_with_matching_defaults() -> None:
    text = (ROOT / "Pulumi.yaml").read_text()
    declared = yaml.safe_load(text)["config"]
    for key in (*settings.STRING_KEYS, *settings.STRUCTURED_KEYS):
        assert f"trading:{key}" in text, f"trading:{key} is not documented in Pulumi.yaml"
    assert (
        declared["trading:logRetentionDays"]["default"]
        == parse(
            {k: v for k, v in raw_settings("dr").items() if k != "logRetentionDays"}
        ).log_retention_days
    )
    assert declared["trading:namePrefix"]["default"] == "trading"


@pytest.mark.parametrize(
    "value", ["route53-arc", "Routing-Control", "", ["routing-control"], True, None]
)
def test_an_unknown_traffic_control_is_refused_naming_key_value_and_choices(value: Any) -> None:
    found = problems_of(with_change("dr", "dns.trafficControl", value))
    assert found == [
        f"trading:dns.trafficControl = {value!r} is not valid; "
        "allowed: routing-control | health-check-inversion"
    ]


def test_traffic_control_defaults_to_routing_controls_and_inversion_is_an_option() -> None:
    assert parse(with_change("primary", "dns.trafficControl", DELETE)).dns.uses_routing_controls
    inversion = parse(with_change("dr", "dns.trafficControl", "health-check-inversion")).dns
    assert inversion.traffic_control == "health-check-inversion"
    assert not inversion.uses_routing_controls


def test_both_stack_files_switch_traffic_the_same_way() -> None:
    """dr refuses a primary that switches another way (components/primary_reference.py), so the
    shipped stack files must agree."""
    primary, dr = (parse(raw_settings(stack)).dns.traffic_control for stack in STACKS)
    assert primary == dr == settings.ROUTING_CONTROL


@pytest.mark.parametrize(
    ("path", "value", "expected"),
    [
        (
            "capacity.profiles.full.gateway.replicas",
            30,
            "trading:capacity.profiles.full.gateway = {'replicas': 30, 'maxReplicas': 24} is not "
            "valid; allowed: replicas <= maxReplicas",
        ),
        (
            "capacity.profiles.pilot-light.gateway.maxReplicas",
            25,
            "trading:capacity.profiles.pilot-light.gateway.maxReplicas = 25 is not valid; "
            "allowed: at most the full profile's maxReplicas (24): a pilot light is never larger "
            "than full capacity",
        ),
        (
            "capacity.profiles.full.nodeGroups.system.maxSize",
            0,
            "trading:capacity.profiles.full.nodeGroups.system = {'minSize': 2, 'desiredSize': 3, "
            "'maxSize': 0} is not valid; allowed: minSize <= desiredSize <= maxSize",
        ),
        (
            "network.azCount",
            3.5,
            "trading:network.azCount = 3.5 is not valid; allowed: a whole number from 2 to 6",
        ),
        (
            "eks.deployerInsideVpc",
            "yes",
            "trading:eks.deployerInsideVpc = 'yes' is not valid; allowed: true or false",
        ),
        (
            "tags.owner",
            "x" * 257,
            f"trading:tags.owner = {'x' * 257!r} is not valid; allowed: a string of at most 256 "
            "characters",
        ),
        (
            "capacity.profiles.full.addons.memory",
            "1G",
            "trading:capacity.profiles.full.addons.memory = '1G' is not valid; allowed: a "
            'Kubernetes memory quantity like "512Mi" or "2Gi"',
        ),
        (
            "records.archiveAfterDays",
            10,
            "trading:records.archiveAfterDays = 10 is not valid; allowed: a whole number from 30 "
            "to 3650",
        ),
        (
            "security.cloudtrail",
            "no",
            "trading:security.cloudtrail = 'no' is not valid; allowed: true | false",
        ),
        (
            "gateway.writeGateImage",
            "python:latest",
            "trading:gateway.writeGateImage = 'python:latest' is not valid; allowed: an image "
            "pinned by tag or digest, never latest",
        ),
        (
            "gateway.port",
            8480,
            "trading:gateway.port = 8480 is not valid; allowed: a port other than 8480 (the "
            "write gate's)",
        ),
    ],
)
def test_more_rules_name_key_value_and_what_is_allowed(
    path: str, value: Any, expected: str
) -> None:
    assert problems_of(with_change("dr", path, value)) == [expected]


def test_a_cross_key_rule_is_silent_while_a_key_it_reads_is_invalid() -> None:
    """The az count is judged against the region's zones only once the region is valid: the one
    problem is the region's own."""
    raw = with_change("dr", "region", "mars-north-1")
    raw["network"] = {**raw["network"], "azCount": 6}
    assert problems_of(raw) == [
        "trading:region = 'mars-north-1' is not valid; allowed: " + " | ".join(settings.REGION_AZS)
    ]


def test_load_reads_every_key_the_models_declare() -> None:
    assert set(settings.STRING_KEYS) | set(settings.STRUCTURED_KEYS) == set(settings.CONFIG_KEYS)
    assert not set(settings.STRING_KEYS) & set(settings.STRUCTURED_KEYS)


def test_the_generated_key_reference_matches_the_models() -> None:
    """Pulumi.yaml from `config:` on and the README's key reference are written from the models;
    `python -m settings.reference --write` regenerates them after a model changes."""
    for path, render in (
        (ROOT / "Pulumi.yaml", reference.with_pulumi_section),
        (ROOT / "README.md", reference.with_readme_section),
    ):
        text = path.read_text()
        assert render(text) == text, f"{path.name} is stale: python -m settings.reference --write"
    readme = (ROOT / "README.md").read_text()
    for key in settings.CONFIG_KEYS:
        assert f"| `trading:{key}` |" in readme


def test_the_key_reference_follows_a_changed_description(monkeypatch: pytest.MonkeyPatch) -> None:
    field = settings.Settings.model_fields["log_retention_days"]
    monkeypatch.setattr(field, "description", "kept for auditors")
    text = (ROOT / "Pulumi.yaml").read_text()
    assert reference.with_pulumi_section(text) != text
    assert 'description: "kept for auditors; allowed: 1, 3, 5' in reference.pulumi_config_section()
