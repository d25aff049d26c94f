"""`RegionalEntry`: the region's public door. A REST API (regional, WAF-protected, TLS on a
custom domain, throttled, access-logged) reaches the order gateway's pods through a VPC link to
an internal Network Load Balancer, whose target group the Load Balancer Controller fills.

REST rather than HTTP API: AWS WAF attaches to REST API stages, not to HTTP APIs. REST VPC
links reach Network Load Balancers, hence an NLB rather than an ALB.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.gateway import HEALTH_PATH
from components.iam import service_role
from settings import Dns, Gateway

STAGE = "live"
ACCESS_LOG_FORMAT = json.dumps(
    {
        "requestId": "$context.requestId",
        "ip": "$context.identity.sourceIp",
        "time": "$context.requestTimeEpoch",
        "method": "$context.httpMethod",
        "path": "$context.path",
        "status": "$context.status",
        "latencyMs": "$context.responseLatency",
        "integrationLatencyMs": "$context.integrationLatency",
        "wafStatus": "$context.waf.status",
    }
)
MANAGED_RULE_GROUPS = ("AWSManagedRulesCommonRuleSet", "AWSManagedRulesKnownBadInputsRuleSet")


@dataclass
class RegionalEntryArgs:
    prefix: str
    region: str
    dns: Dns
    gateway: Gateway
    vpc_id: pulumi.Input[str]
    vpc_cidr: str
    private_subnet_ids: Sequence[pulumi.Input[str]]
    node_security_group_id: pulumi.Input[str]
    logs_key_arn: pulumi.Input[str]
    log_retention_days: int


def _visibility(metric: str) -> aws.wafv2.WebAclRuleVisibilityConfigArgs:
    return aws.wafv2.WebAclRuleVisibilityConfigArgs(
        cloudwatch_metrics_enabled=True, metric_name=metric, sampled_requests_enabled=True
    )


class RegionalEntry(pulumi.ComponentResource):
    target_group_arn: pulumi.Output[str]
    api_name: pulumi.Output[str]
    hostname: str
    domain: aws.apigateway.DomainName
    regional_domain: aws.apigateway.DomainName

    def __init__(
        self, name: str, args: RegionalEntryArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("trading:network:RegionalEntry", name, None, opts)
        self._name = name
        self._args = args
        self._child = pulumi.ResourceOptions(parent=self)
        self.hostname = args.dns.regional_name(args.region)

        balancer, self.target_group_arn = self._load_balancer()
        stage = self._api(balancer)
        certificate_arn = self._certificate()
        self.domain = self._domain("public", args.dns.record_name, certificate_arn, stage)
        self.regional_domain = self._domain("regional", self.hostname, certificate_arn, stage)
        self._firewall(stage)
        self.register_outputs({"hostname": self.hostname, "targetGroupArn": self.target_group_arn})

    def _load_balancer(self) -> tuple[aws.lb.LoadBalancer, pulumi.Output[str]]:
        args, name = self._args, self._name
        group = aws.ec2.SecurityGroup(
            f"{name}-nlb-sg",
            vpc_id=args.vpc_id,
            description="Internal NLB in front of the order gateway",
            opts=self._child,
        )
        aws.vpc.SecurityGroupIngressRule(
            f"{name}-nlb-http",
            security_group_id=group.id,
            cidr_ipv4=args.vpc_cidr,
            ip_protocol="tcp",
            from_port=80,
            to_port=80,
            description="HTTP from inside the VPC (the API Gateway VPC link)",
            opts=self._child,
        )
        aws.vpc.SecurityGroupEgressRule(
            f"{name}-nlb-to-pods",
            security_group_id=group.id,
            referenced_security_group_id=args.node_security_group_id,
            ip_protocol="tcp",
            from_port=args.gateway.port,
            to_port=args.gateway.port,
            description="To the order gateway pods",
            opts=self._child,
        )
        aws.vpc.SecurityGroupIngressRule(
            f"{name}-pods-from-nlb",
            security_group_id=args.node_security_group_id,
            referenced_security_group_id=group.id,
            ip_protocol="tcp",
            from_port=args.gateway.port,
            to_port=args.gateway.port,
            description="Order gateway pods from the internal NLB",
            opts=self._child,
        )
        balancer = aws.lb.LoadBalancer(
            f"{name}-nlb",
            name=f"{args.prefix}-gateway",
            internal=True,
            load_balancer_type="network",
            subnets=list(args.private_subnet_ids),
            security_groups=[group.id],
            enable_cross_zone_load_balancing=True,
            # VPC link traffic arrives through PrivateLink, which the group cannot name.
            enforce_security_group_inbound_rules_on_private_link_traffic="off",
            opts=self._child,
        )
        target_group = aws.lb.TargetGroup(
            f"{name}-gateway",
            name=f"{args.prefix}-gateway",
            port=args.gateway.port,
            protocol="TCP",
            target_type="ip",
            vpc_id=args.vpc_id,
            deregistration_delay=30,
            health_check=aws.lb.TargetGroupHealthCheckArgs(
                protocol="HTTP", path=HEALTH_PATH, interval=10, healthy_threshold=2
            ),
            opts=self._child,
        )
        aws.lb.Listener(
            f"{name}-nlb-http",
            load_balancer_arn=balancer.arn,
            port=80,
            protocol="TCP",
            default_actions=[
                aws.lb.ListenerDefaultActionArgs(type="forward", target_group_arn=target_group.arn)
            ],
            opts=self._child,
        )
        return balancer, target_group.arn

    def _api(self, balancer: aws.lb.LoadBalancer) -> aws.apigateway.Stage:
        args, name = self._args, self._name
        api = aws.apigateway.RestApi(
            f"{name}-api",
            name=f"{args.prefix}-gateway",
            endpoint_configuration=aws.apigateway.RestApiEndpointConfigurationArgs(
                types="REGIONAL"
            ),
            # Clients come through the custom domain only, where TLS and WAF apply.
            disable_execute_api_endpoint=True,
            opts=self._child,
        )
        self.api_name = api.name
        link = aws.apigateway.VpcLink(
            f"{name}-vpc-link",
            name=f"{args.prefix}-gateway",
            target_arn=balancer.arn,
            opts=self._child,
        )
        proxy = aws.apigateway.Resource(
            f"{name}-proxy",
            rest_api=api.id,
            parent_id=api.root_resource_id,
            path_part="{proxy+}",
            opts=self._child,
        )
        # Orders need a signed caller (API Gateway, "Control access to a REST API with IAM
        # permissions"); trading:gateway.authorization none makes a deliberately public API.
        method = aws.apigateway.Method(
            f"{name}-proxy-any",
            rest_api=api.id,
            resource_id=proxy.id,
            http_method="ANY",
            authorization="AWS_IAM" if args.gateway.authorization == "iam" else "NONE",
            request_parameters={"method.request.path.proxy": True},
            opts=self._child,
        )
        integration = self._to_balancer(
            f"{name}-proxy-any",
            method,
            link,
            pulumi.Output.concat("http://", balancer.dns_name, "/{proxy}"),
            {"integration.request.path.proxy": "method.request.path.proxy"},
        )
        health = self._health_route(api, link, balancer)
        deployment = aws.apigateway.Deployment(
            f"{name}-deployment",
            rest_api=api.id,
            # A method's id survives a change of its authorization, which API Gateway serves
            # only after a new deployment: the setting itself is a trigger.
            triggers={
                "integration": integration.id,
                "method": method.id,
                "authorization": args.gateway.authorization,
                "health": health.id,
            },
            opts=pulumi.ResourceOptions(parent=self, depends_on=[integration, health]),
        )
        logging_account = self._logging_role()
        log_group = aws.cloudwatch.LogGroup(
            f"{name}-access-logs",
            name=f"/trading/{args.prefix}/api-access",
            kms_key_id=args.logs_key_arn,
            retention_in_days=args.log_retention_days,
            opts=self._child,
        )
        stage = aws.apigateway.Stage(
            f"{name}-stage",
            rest_api=api.id,
            deployment=deployment.id,
            stage_name=STAGE,
            access_log_settings=aws.apigateway.StageAccessLogSettingsArgs(
                destination_arn=log_group.arn, format=ACCESS_LOG_FORMAT
            ),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[logging_account]),
        )
        aws.apigateway.MethodSettings(
            f"{name}-throttling",
            rest_api=api.id,
            stage_name=stage.stage_name,
            method_path="*/*",
            settings=aws.apigateway.MethodSettingsSettingsArgs(
                throttling_rate_limit=args.gateway.throttle_rate_limit,
                throttling_burst_limit=args.gateway.throttle_burst_limit,
                metrics_enabled=True,
                logging_level="ERROR",
            ),
            opts=self._child,
        )
        return stage

    def _health_route(
        self,
        api: aws.apigateway.RestApi,
        link: aws.apigateway.VpcLink,
        balancer: aws.lb.LoadBalancer,
    ) -> aws.apigateway.Integration:
        """GET /health without authorization: Route 53 health checkers and the failover probe
        send plain, unsigned HTTPS requests. It reaches only the gateway's /health."""
        name = self._name
        resource = aws.apigateway.Resource(
            f"{name}-health",
            rest_api=api.id,
            parent_id=api.root_resource_id,
            path_part=HEALTH_PATH.strip("/"),
            opts=self._child,
        )
        method = aws.apigateway.Method(
            f"{name}-health-get",
            rest_api=api.id,
            resource_id=resource.id,
            http_method="GET",
            authorization="NONE",
            opts=self._child,
        )
        return self._to_balancer(
            f"{name}-health-get",
            method,
            link,
            pulumi.Output.concat("http://", balancer.dns_name, HEALTH_PATH),
        )

    def _to_balancer(
        self,
        name: str,
        method: aws.apigateway.Method,
        link: aws.apigateway.VpcLink,
        uri: pulumi.Output[str],
        request_parameters: dict[str, str] | None = None,
    ) -> aws.apigateway.Integration:
        """`method` proxied as it came, through the VPC link, to the internal NLB at `uri`."""
        return aws.apigateway.Integration(
            name,
            rest_api=method.rest_api,
            resource_id=method.resource_id,
            http_method=method.http_method,
            type="HTTP_PROXY",
            integration_http_method=method.http_method,
            connection_type="VPC_LINK",
            connection_id=link.id,
            uri=uri,
            request_parameters=request_parameters,
            opts=self._child,
        )

    def _logging_role(self) -> aws.apigateway.Account:
        """API Gateway writes logs through one role per account and region (an account-wide
        setting: another stack in the same account and region must not set a different one)."""
        role = service_role(f"{self._name}-api-logging", "apigateway.amazonaws.com", self._child)
        aws.iam.RolePolicyAttachment(
            f"{self._name}-api-logging",
            role=role.name,
            policy_arn=aws.iam.ManagedPolicy.AMAZON_API_GATEWAY_PUSH_TO_CLOUD_WATCH_LOGS,
            opts=self._child,
        )
        return aws.apigateway.Account(
            f"{self._name}-api-logging", cloudwatch_role_arn=role.arn, opts=self._child
        )

    def _certificate(self) -> pulumi.Output[str]:
        """One certificate for the failover name and the region's own name, DNS-validated in
        the zone. Both regions hold a certificate for the failover name: either may serve it."""
        args, name = self._args, self._name
        names = [args.dns.record_name, self.hostname]
        certificate = aws.acm.Certificate(
            f"{name}-certificate",
            domain_name=names[0],
            subject_alternative_names=names[1:],
            validation_method="DNS",
            opts=self._child,
        )
        records = []
        for label, domain in zip(("public", "regional"), names, strict=True):
            option = certificate.domain_validation_options.apply(
                lambda options, d=domain: next(o for o in options if o.domain_name == d)
            )
            records.append(
                aws.route53.Record(
                    f"{name}-{label}-validation",
                    zone_id=args.dns.zone_id,
                    name=option.apply(lambda o: o.resource_record_name or ""),
                    type=option.apply(lambda o: o.resource_record_type or "CNAME"),
                    records=[option.apply(lambda o: o.resource_record_value or "")],
                    ttl=300,
                    # Both stacks validate the shared failover name with the same record (ACM
                    # gives one validation CNAME per domain name); the regional names are each
                    # stack's own.
                    allow_overwrite=label == "public",
                    opts=pulumi.ResourceOptions(
                        parent=self,
                        # Destroying one stack must not delete the record the other stack's
                        # certificate renews with: ACM renews a DNS-validated certificate only
                        # while its CNAME stays in DNS (ACM User Guide, "Renewal for domains
                        # validated by DNS").
                        retain_on_delete=label == "public",
                    ),
                )
            )
        validation = aws.acm.CertificateValidation(
            f"{name}-certificate",
            certificate_arn=certificate.arn,
            validation_record_fqdns=[r.fqdn for r in records],
            opts=self._child,
        )
        return validation.certificate_arn

    def _domain(
        self,
        label: str,
        hostname: str,
        certificate_arn: pulumi.Output[str],
        stage: aws.apigateway.Stage,
    ) -> aws.apigateway.DomainName:
        domain = aws.apigateway.DomainName(
            f"{self._name}-{label}-domain",
            domain_name=hostname,
            regional_certificate_arn=certificate_arn,
            endpoint_configuration=aws.apigateway.DomainNameEndpointConfigurationArgs(
                types="REGIONAL"
            ),
            security_policy="TLS_1_2",
            opts=self._child,
        )
        aws.apigateway.BasePathMapping(
            f"{self._name}-{label}-mapping",
            rest_api=stage.rest_api,
            stage_name=stage.stage_name,
            domain_name=domain.domain_name,
            opts=self._child,
        )
        return domain

    def _firewall(self, stage: aws.apigateway.Stage) -> None:
        managed = [
            aws.wafv2.WebAclRuleArgs(
                name=group,
                priority=index,
                override_action=aws.wafv2.WebAclRuleOverrideActionArgs(
                    none=aws.wafv2.WebAclRuleOverrideActionNoneArgs()
                ),
                statement=aws.wafv2.WebAclRuleStatementArgs(
                    managed_rule_group_statement=aws.wafv2.WebAclRuleStatementManagedRuleGroupStatementArgs(
                        name=group, vendor_name="AWS"
                    )
                ),
                visibility_config=_visibility(group),
            )
            for index, group in enumerate(MANAGED_RULE_GROUPS)
        ]
        acl = aws.wafv2.WebAcl(
            f"{self._name}-waf",
            name=f"{self._args.prefix}-gateway",
            scope="REGIONAL",
            default_action=aws.wafv2.WebAclDefaultActionArgs(
                allow=aws.wafv2.WebAclDefaultActionAllowArgs()
            ),
            rules=managed,
            visibility_config=aws.wafv2.WebAclVisibilityConfigArgs(
                cloudwatch_metrics_enabled=True,
                metric_name=f"{self._args.prefix}-gateway",
                sampled_requests_enabled=True,
            ),
            opts=self._child,
        )
        aws.wafv2.WebAclAssociation(
            f"{self._name}-waf",
            resource_arn=stage.arn,
            web_acl_arn=acl.arn,
            opts=self._child,
        )
