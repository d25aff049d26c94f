"""`DnsFailover`: this region's Route 53 health check on its own `/health`, its failover record
(PRIMARY in the primary stack, SECONDARY in dr), its regional record, and an alarm on the
health check.

What the failover record follows is `trading:dns.trafficControl`:
- routing-control (the default): a health check of type RECOVERY_CONTROL tied to this region's
  ARC routing control (components/recovery.py), so the control's On/Off state, changed on ARC's
  five-region data plane, decides where clients go. The HTTPS check stays, unattached: its alarm
  pages when the region's `/health` fails, and the drill's serving checks read dr's.
- health-check-inversion: the HTTPS check itself; failover inverts the primary's through the
  Route 53 API, whose control plane is in us-east-1, the region that failed.

Route 53 publishes health check metrics in us-east-1 only, so the alarm and the topic it pages
live there, whichever region this stack serves. They are placed there with each resource's own
`region`, not with a us-east-1 provider: a provider is configured (and its credentials checked
against STS in its region) on every `pulumi up`, so a dr stack holding one could not be updated
while us-east-1 is down; an unchanged resource in another region is only diffed.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.alarms import Evaluation, Metric, metric_alarm
from components.alerts import Alerts, AlertsArgs
from components.context import RegionalContext
from settings import Dns

ROUTE53_METRICS_REGION = "us-east-1"
FAILOVER_TYPES = ("PRIMARY", "SECONDARY")


@dataclass
class DnsFailoverArgs:
    context: RegionalContext
    failover_type: str
    dns: Dns
    regional_hostname: str
    public_domain: aws.apigateway.DomainName
    regional_domain: aws.apigateway.DomainName
    # The ARC routing control this region's failover record follows (trafficControl
    # routing-control); None: the record follows the HTTPS check, which failover inverts.
    routing_control_arn: pulumi.Input[str] | None = None


class DnsFailover(pulumi.ComponentResource):
    # The HTTPS check on the region's /health, whichever switch the record follows.
    health_check_id: pulumi.Output[str]
    # The check the failover record follows: the HTTPS check, or the routing control's.
    record_health_check_id: pulumi.Output[str]
    record_name: str

    def __init__(
        self, name: str, args: DnsFailoverArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("trading:dns:DnsFailover", name, None, opts)
        if args.failover_type not in FAILOVER_TYPES:
            raise ValueError(f"failover_type {args.failover_type!r} is not one of {FAILOVER_TYPES}")
        child = pulumi.ResourceOptions(parent=self)
        check = aws.route53.HealthCheck(
            f"{name}-health",
            type="HTTPS",
            fqdn=args.regional_hostname,
            port=443,
            resource_path="/health",
            request_interval=args.dns.health_check_interval_seconds,
            failure_threshold=args.dns.health_check_failure_threshold,
            enable_sni=True,
            measure_latency=True,
            tags={"Name": f"{args.context.prefix}-health"},
            # With health-check-inversion, the failover Lambda inverts the primary's check to pin
            # traffic to dr, and only a failback restores it: `pulumi up` after a refresh must
            # not move traffic back. Kept with routing controls too, so that switching
            # trafficControl never changes this check.
            opts=pulumi.ResourceOptions.merge(
                child, pulumi.ResourceOptions(ignore_changes=["invertHealthcheck"])
            ),
        )
        # The region's own name, which its health check probes, bypassing failover.
        aws.route53.Record(
            f"{name}-regional",
            zone_id=args.dns.zone_id,
            name=args.regional_hostname,
            type="A",
            aliases=[
                aws.route53.RecordAliasArgs(
                    name=args.regional_domain.regional_domain_name,
                    zone_id=args.regional_domain.regional_zone_id,
                    evaluate_target_health=False,
                )
            ],
            opts=child,
        )
        record_check = (
            check
            if args.routing_control_arn is None
            else self._routing_control_check(name, args, args.routing_control_arn)
        )
        aws.route53.Record(
            f"{name}-failover",
            zone_id=args.dns.zone_id,
            name=args.dns.record_name,
            type="A",
            set_identifier=f"{args.context.prefix}-{args.failover_type.lower()}",
            failover_routing_policies=[
                aws.route53.RecordFailoverRoutingPolicyArgs(type=args.failover_type)
            ],
            health_check_id=record_check.id,
            aliases=[
                aws.route53.RecordAliasArgs(
                    name=args.public_domain.regional_domain_name,
                    zone_id=args.public_domain.regional_zone_id,
                    evaluate_target_health=True,
                )
            ],
            opts=child,
        )
        self._alarm(name, args, check)
        self.health_check_id = check.id
        self.record_health_check_id = record_check.id
        self.record_name = args.dns.record_name
        self.register_outputs(
            {
                "healthCheckId": self.health_check_id,
                "recordHealthCheckId": self.record_health_check_id,
            }
        )

    def _routing_control_check(
        self, name: str, args: DnsFailoverArgs, routing_control_arn: pulumi.Input[str]
    ) -> aws.route53.HealthCheck:
        # "A routing control is an on/off switch that changes the state of a[n] ARC health
        # check" (https://docs.amazonaws.cn/en_us/r53recovery/latest/dg/introduction-regions-routing.html);
        # `routing_control_arn` "is used when health check type is RECOVERY_CONTROL"
        # (https://www.pulumi.com/registry/packages/aws/api-docs/route53/healthcheck/).
        return aws.route53.HealthCheck(
            f"{name}-routing-control",
            type="RECOVERY_CONTROL",
            routing_control_arn=routing_control_arn,
            tags={"Name": f"{args.context.prefix}-routing-control"},
            opts=pulumi.ResourceOptions(parent=self),
        )

    def _alarm(self, name: str, args: DnsFailoverArgs, check: aws.route53.HealthCheck) -> None:
        account = args.context.account.apply(
            lambda a: dataclasses.replace(a, region=ROUTE53_METRICS_REGION)
        )
        topic = Alerts(
            f"{name}-health",
            AlertsArgs(f"{args.context.prefix}-health", account, region=ROUTE53_METRICS_REGION),
            pulumi.ResourceOptions(parent=self),
        )
        metric_alarm(
            f"{name}-health",
            description=f"{args.regional_hostname}/health fails Route 53's checks",
            metric=Metric(
                "AWS/Route53", "HealthCheckStatus", {"HealthCheckId": check.id}, "Minimum"
            ),
            threshold=1,
            comparison="LessThanThreshold",
            evaluation=Evaluation(period_seconds=60, periods=1, missing_data="breaching"),
            topic_arn=topic.topic_arn,
            region=ROUTE53_METRICS_REGION,
            opts=pulumi.ResourceOptions(parent=self),
        )
