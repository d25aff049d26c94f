"""`RegionalEntry`: the region's public door. A REST API (regional, WAF-protected, TLS on a
custom domain, throttled, access-logged) reaches the order gateway's pods through a VPC link to
an internal Network Load Balancer, whose target group the Load Balancer Controller fills.

REST rather than HTTP API: AWS WAF attaches to REST API stages, not to HTTP APIs. REST VPC
links reach Network Load Balancers, hence an NLB rather than an ALB.

This module is the component and its API (routes, deployment, stage, access logs); the NLB, its
security group and its target group are in components/entry_load_balancer.py, and the
certificate, custom domains and WAF in components/edge.py.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.context import RegionalContext
from components.edge import custom_domain, firewall, validated_certificate
from components.entry_load_balancer import internal_load_balancer
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


@dataclass
class RegionalEntryArgs:
    context: RegionalContext
    dns: Dns
    gateway: Gateway
    # The pods' port the load balancer sends to (components/gateway.py, `serving_port`).
    pod_port: int
    vpc_id: pulumi.Input[str]
    vpc_cidr: str
    private_subnet_ids: Sequence[pulumi.Input[str]]
    node_security_group_id: pulumi.Input[str]


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
        self.hostname = args.dns.regional_name(args.context.region)

        balancer, self.target_group_arn = internal_load_balancer(
            name,
            prefix=args.context.prefix,
            vpc_id=args.vpc_id,
            vpc_cidr=args.vpc_cidr,
            private_subnet_ids=args.private_subnet_ids,
            node_security_group_id=args.node_security_group_id,
            port=args.gateway.port,
            pod_port=args.pod_port,
            opts=self._child,
        )
        stage = self._api(balancer)
        certificate_arn = validated_certificate(name, args.dns, self.hostname, self)
        self.domain = custom_domain(
            name,
            "public",
            args.dns.record_name,
            certificate_arn=certificate_arn,
            stage=stage,
            parent=self,
        )
        self.regional_domain = custom_domain(
            name,
            "regional",
            self.hostname,
            certificate_arn=certificate_arn,
            stage=stage,
            parent=self,
        )
        firewall(name, args.context, stage, self)
        self.register_outputs({"hostname": self.hostname, "targetGroupArn": self.target_group_arn})

    def _api(self, balancer: aws.lb.LoadBalancer) -> aws.apigateway.Stage:
        args, name = self._args, self._name
        api = aws.apigateway.RestApi(
            f"{name}-api",
            name=f"{args.context.prefix}-gateway",
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
            name=f"{args.context.prefix}-gateway",
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
            name=f"/trading/{args.context.prefix}/api-access",
            kms_key_id=args.context.logs_key_arn,
            retention_in_days=args.context.log_retention_days,
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
