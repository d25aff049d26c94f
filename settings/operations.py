"""`trading:dns`, `trading:gateway`, `trading:failover`, `trading:observability` and
`trading:security`: how clients reach the platform, how failover is decided and who is paged."""

from __future__ import annotations

from typing import Annotated, Literal, Self

from pydantic import Field, model_validator

from settings.errors import Problems
from settings.fields import EMAIL, HTTPS_URL, Flag, Listed, Matches, Model, OneOf, Text, Whole

FAILOVER_MODES = ("manual", "automatic")
API_AUTHORIZATIONS = ("iam", "none")
HEALTH_CHECK_INTERVALS = (10, 30)
# How failover moves clients (README, "Traffic control"): ARC routing controls flipped on ARC's
# five-region data plane (the default), or the primary's health check inverted through the
# Route 53 API, whose control plane is in us-east-1 (cheaper, no ARC cluster).
ROUTING_CONTROL = "routing-control"
HEALTH_CHECK_INVERSION = "health-check-inversion"
TRAFFIC_CONTROLS = (ROUTING_CONTROL, HEALTH_CHECK_INVERSION)

_DOMAIN = r"^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$"
_IMAGE = r"^[a-z0-9][a-z0-9._/-]*(:[A-Za-z0-9][A-Za-z0-9._-]{0,127}|@sha256:[a-f0-9]{64})$"
_PINNED = "an image pinned by tag or digest, never latest"

Emails = Annotated[tuple[Annotated[str, EMAIL], ...], Listed("a list of email addresses")]


class Failover(Model):
    """Detection and notification of the failover automation (dr stack)."""

    mode: Annotated[Literal["manual", "automatic"], OneOf(*FAILOVER_MODES)] = Field(
        default="manual",
        description='manual: page "failover recommended"; automatic: fail over',
    )
    probe_failure_threshold: Annotated[int, Whole(1, 20)] = Field(
        default=3, description="consecutive failed probes of the primary before acting"
    )
    probe_interval_minutes: Annotated[int, Whole(1, 15)] = Field(
        default=1, description="how often the probe runs"
    )
    notify_emails: Emails = Field(
        default=(), description="addresses subscribed to the failover topic"
    )
    notify_https_endpoints: Annotated[
        tuple[Annotated[str, HTTPS_URL], ...], Listed("a list of https:// URLs")
    ] = Field(
        default=(),
        description="https:// URLs of a paging service subscribed to it; manual mode needs at "
        "least one address or URL in dr: its failover recommendation is only a page",
    )


class Dns(Model):
    """DNS failover in an existing hosted zone: one record, PRIMARY in the primary stack and
    SECONDARY in dr, each following its own region's switch: a routing control, or the region's
    health check (`traffic_control`)."""

    zone_id: Annotated[
        str, Matches(r"^Z[A-Z0-9]{1,32}$", "a Route 53 hosted zone id like Z0123456789ABCDEFGHIJ")
    ] = Field(description="the hosted zone's id")
    zone_name: Annotated[
        str, Matches(_DOMAIN, "a lowercase domain name like trading.example.com")
    ] = Field(description="its domain")
    record_name: Annotated[
        str, Matches(_DOMAIN, "a lowercase host name like api.trading.example.com")
    ] = Field(
        description="the failover name clients use, inside zoneName; each region also gets "
        "<region>.<recordName> for its health check"
    )
    health_check_interval_seconds: Annotated[
        int, OneOf(*HEALTH_CHECK_INTERVALS, allowed="10 or 30 (what Route 53 offers)")
    ] = Field(default=10, description="seconds between Route 53's health checks")
    health_check_failure_threshold: Annotated[int, Whole(1, 10)] = Field(
        default=3, description="consecutive failed checks before a region is unhealthy"
    )
    traffic_control: Annotated[
        Literal["routing-control", "health-check-inversion"], OneOf(*TRAFFIC_CONTROLS)
    ] = Field(
        default=ROUTING_CONTROL,
        description="how failover moves clients, the same in both stacks: routing-control, "
        "each failover record follows a Route 53 ARC routing control (the primary stack owns "
        "the ARC cluster, billed by the hour; turn both controls On once after the first "
        '`pulumi up -s primary`: README, "Traffic control"); health-check-inversion, each '
        "record follows its region's HTTPS health check and failover inverts the primary's "
        "(no ARC cost, but the Route 53 API it calls has its control plane in us-east-1)",
    )

    @model_validator(mode="after")
    def _record_in_zone(self) -> Self:
        problems = Problems()
        zone, record = self.zone_name, self.record_name
        if not (record == zone or record.endswith(f".{zone}")):
            problems.invalid(("recordName",), record, f"a name inside dns.zoneName ({zone})")
        problems.raise_any("Dns")
        return self

    @property
    def uses_routing_controls(self) -> bool:
        return self.traffic_control == ROUTING_CONTROL

    def regional_name(self, region: str) -> str:
        """The region's own hostname: what its health check probes, bypassing failover."""
        return f"{region}.{self.record_name}"


# The port the order gateway's write gate listens on in each pod (components/write_gate.py),
# so the gateway's own may not be it.
WRITE_GATE_PORT = 8480


class Gateway(Model):
    """The order gateway workload and its public entry point."""

    image: Annotated[str, Matches(_IMAGE, f"{_PINNED} (e.g. registry/gateway:1.4.2)")] = Field(
        default="hashicorp/http-echo:1.0.0",
        description="the container image (the default answers 200 on every path, /health included)",
    )
    write_gate_image: Annotated[
        str, Matches(_IMAGE, f"{_PINNED}, with python3 and boto3 on its PATH")
    ] = Field(
        default="public.ecr.aws/lambda/python:3.12",
        description="the image the write gate's sidecar runs in (routing-control mode): any "
        "image with python3 and boto3; the default is AWS Lambda's Python base image",
    )
    args: Annotated[tuple[Annotated[str, Text()], ...], Listed()] = Field(
        default=("-listen=:5678", "-text=ok"), description="container arguments"
    )
    port: Annotated[int, Whole(1024, 65535)] = Field(
        default=5678,
        description=f"container port (not {WRITE_GATE_PORT}: the write gate's, in the same pod)",
    )
    throttle_rate_limit: Annotated[int, Whole(1, 10000)] = Field(
        default=1000, description="API Gateway steady requests per second"
    )
    throttle_burst_limit: Annotated[int, Whole(1, 5000)] = Field(
        default=2000, description="API Gateway burst"
    )
    authorization: Annotated[Literal["iam", "none"], OneOf(*API_AUTHORIZATIONS)] = Field(
        default="iam",
        description="iam: callers sign requests (SigV4) with IAM credentials allowed "
        "execute-api:Invoke; none: a deliberately public API, behind WAF and throttling only. "
        "GET /health is always open for Route 53's checkers",
    )

    @model_validator(mode="after")
    def _image_pinned(self) -> Self:
        problems = Problems()
        for key, image in (("image", self.image), ("writeGateImage", self.write_gate_image)):
            if image.endswith(":latest"):
                problems.invalid((key,), image, _PINNED)
        if self.port == WRITE_GATE_PORT:
            problems.invalid(
                ("port",), self.port, f"a port other than {WRITE_GATE_PORT} (the write gate's)"
            )
        problems.raise_any("Gateway")
        return self


class Observability(Model):
    """Monitoring inside the cluster and who is paged."""

    prometheus_retention: Annotated[
        str, Matches(r"^[1-9][0-9]{0,3}[dhw]$", 'a Prometheus duration like "15d" or "2w"')
    ] = Field(default="15d", description="how long Prometheus keeps samples")
    prometheus_storage_gb: Annotated[int, Whole(10, 16000)] = Field(
        default=50, description="Prometheus volume size"
    )
    alert_emails: Emails = Field(default=(), description="addresses subscribed to the alerts topic")


class SecurityBaseline(Model):
    """Account services each stack may switch off where they are managed centrally (the trail
    is multi-region, so only one stack per account should keep cloudtrail on)."""

    cloudtrail: Annotated[bool, Flag()] = Field(
        default=True, description="a multi-region CloudTrail"
    )
    guardduty: Annotated[bool, Flag()] = Field(default=True, description="GuardDuty")
    security_hub: Annotated[bool, Flag()] = Field(default=True, description="Security Hub")
    config_recorder: Annotated[bool, Flag()] = Field(
        default=True, description="the AWS Config recorder"
    )
    access_analyzer: Annotated[bool, Flag()] = Field(
        default=True, description="IAM Access Analyzer"
    )
