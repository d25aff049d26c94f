"""Network: security groups, load balancers and their listeners, API Gateway."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from pulumi_policy import PolicyResource, ResourceValidationArgs, Severity

from .common import (
    ADVISORY,
    Settings,
    Stack,
    dig,
    each,
    every,
    flag,
    items,
    known_items,
    mapping,
    number,
    resource_policy,
    stack_policy,
    strings,
    text,
)

LOAD_BALANCERS = ("aws:lb/loadBalancer:LoadBalancer", "aws:alb/loadBalancer:LoadBalancer")
CLASSIC_LOAD_BALANCER = "aws:elb/loadBalancer:LoadBalancer"
LISTENERS = ("aws:lb/listener:Listener", "aws:alb/listener:Listener")
INGRESS_RULE = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
GROUP_RULE = "aws:ec2/securityGroupRule:SecurityGroupRule"
SECURITY_GROUP = "aws:ec2/securityGroup:SecurityGroup"
OPEN_CIDRS = ("0.0.0.0/0", "::/0")


def public_load_balancer_groups(stack: Stack) -> set[str]:
    """URNs of the security groups internet-facing load balancers use."""
    return {
        group.urn
        for lb in stack.of_type(*LOAD_BALANCERS)
        if not flag(lb.props.get("internal"), False)
        for group in lb.property_dependencies.get("securityGroups", [])
    }


def ingress_entries(rule: PolicyResource) -> list[tuple[Mapping[str, Any], str | None]]:
    """(the rule's settings, the URN of the group it opens) for each ingress rule a resource
    declares; a security group's inline rules open the group itself."""
    if rule.resource_type == SECURITY_GROUP:
        return [(mapping(entry), rule.urn) for entry in known_items(rule.props.get("ingress"))]
    if rule.resource_type == GROUP_RULE and rule.props.get("type") != "ingress":
        return []
    group = next(iter(rule.property_dependencies.get("securityGroupId", [])), None)
    return [(rule.props, group.urn if group else None)]


def _open_ingress(rule: PolicyResource, stack: Stack, _: Settings) -> Iterable[str]:
    def judge(found: tuple[Mapping[str, Any], str | None]) -> Iterable[str]:
        entry, group = found
        cidrs = [
            *strings(entry.get("cidrIpv4")),
            *strings(entry.get("cidrIpv6")),
            *strings(entry.get("cidrBlocks")),
            *strings(entry.get("ipv6CidrBlocks")),
        ]
        opened = sorted(set(cidrs) & set(OPEN_CIDRS))
        if not opened:
            return
        # HTTPS on an internet-facing load balancer's group is exempt; either fact known false
        # decides while the other is not known yet.
        if every(
            lambda: number(entry.get("fromPort")) == 443,
            lambda: number(entry.get("toPort")) == 443,
            lambda: group in public_load_balancer_groups(stack),
        ):
            return
        yield f"{rule.name} admits the internet ({', '.join(opened)})"

    yield from each(ingress_entries(rule), judge)


def application(props: Mapping[str, Any]) -> bool:
    return (text(props.get("loadBalancerType")) or "application") == "application"


def _drop_invalid_headers(args: ResourceValidationArgs, _: Settings) -> Iterable[str]:
    if application(args.props) and not flag(args.props.get("dropInvalidHeaderFields"), False):
        yield "application load balancer forwards invalid header fields (dropInvalidHeaderFields)"


def _access_logs(args: ResourceValidationArgs, _: Settings) -> Iterable[str]:
    logs = mapping(args.props.get("accessLogs"))
    if args.resource_type == CLASSIC_LOAD_BALANCER:
        # A classic load balancer's accessLogs block is enabled unless it says otherwise.
        if not (logs and flag(logs.get("enabled"), True)):
            yield "load balancer does not write access logs (accessLogs)"
    elif application(args.props) and not flag(logs.get("enabled"), False):
        yield "application load balancer does not write access logs (accessLogs.enabled)"


def _deletion_protection(args: ResourceValidationArgs, _: Settings) -> Iterable[str]:
    if not flag(args.props.get("enableDeletionProtection"), False):
        yield "load balancer has no deletion protection (enableDeletionProtection is off)"


def _https_redirect(args: ResourceValidationArgs, _: Settings) -> Iterable[str]:
    # An application load balancer's listener protocol defaults to HTTP.
    if (text(args.props.get("protocol")) or "HTTP") != "HTTP":
        return
    actions = [mapping(a) for a in items(args.props.get("defaultActions"))]
    to_https = [a for a in actions if dig(a, "redirect", "protocol") == "HTTPS"]
    # What decides without the action's type is read first: a value not known yet drops the
    # verdict only when the verdict needs it.
    if len(actions) != 1 or not to_https or actions[0].get("type") != "redirect":
        yield "HTTP listener does not redirect every request to HTTPS"


def _endpoint_type(args: ResourceValidationArgs, config: Settings) -> Iterable[str]:
    allowed = strings(config["allowedTypes"])
    # API Gateway makes an API edge-optimized unless told otherwise.
    types = strings(dig(args.props, "endpointConfiguration", "types")) or ["EDGE"]
    refused = [t for t in types if t not in allowed]
    if refused:
        yield f"endpoint type {', '.join(refused)} is not one of {', '.join(allowed)}"


def _cache_encrypted(args: ResourceValidationArgs, _: Settings) -> Iterable[str]:
    values = mapping(args.props.get("settings"))
    if flag(values.get("cachingEnabled"), False) and not flag(
        values.get("cacheDataEncrypted"), False
    ):
        yield f"method {text(args.props.get('methodPath'))} caches responses unencrypted"


LB_PAGE = "https://www.pulumi.com/registry/packages/aws/api-docs/lb/loadbalancer/"

POLICIES = [
    stack_policy(
        "no-open-ingress",
        "No security group admits 0.0.0.0/0 or ::/0, except HTTPS (443) on an internet-facing "
        "load balancer's group "
        "(https://docs.aws.amazon.com/vpc/latest/userguide/security-group-rules.html).",
        (INGRESS_RULE, GROUP_RULE, SECURITY_GROUP),
        _open_ingress,
        severity=Severity.CRITICAL,
        remediation="Admit a VPC CIDR or a security group instead of the internet.",
    ),
    resource_policy(
        "alb-drop-invalid-headers",
        "Application load balancers drop HTTP header fields that are not valid; the provider "
        f"forwards them by default ({LB_PAGE}).",
        LOAD_BALANCERS,
        _drop_invalid_headers,
        severity=Severity.MEDIUM,
        remediation="Set drop_invalid_header_fields=True on application load balancers.",
    ),
    resource_policy(
        "elb-access-logs",
        "Application and classic load balancers write access logs. A network load balancer is "
        "exempt: it logs TLS listeners only "
        "(https://docs.aws.amazon.com/elasticloadbalancing/latest/network/load-balancer-access-logs.html).",
        (*LOAD_BALANCERS, CLASSIC_LOAD_BALANCER),
        _access_logs,
        severity=Severity.MEDIUM,
        remediation="Set access_logs (bucket, enabled=True).",
    ),
    resource_policy(
        "elb-deletion-protection",
        f"Load balancers have deletion protection, off by default ({LB_PAGE}). Advisory by "
        "default: it also stops `pulumi destroy` and replacements of a stack rebuilt in a drill.",
        LOAD_BALANCERS,
        _deletion_protection,
        severity=Severity.LOW,
        remediation="Set enable_deletion_protection=True.",
        enforcement=ADVISORY,
    ),
    resource_policy(
        "alb-http-to-https-redirect",
        "HTTP listeners have a single default action: a redirect to HTTPS "
        "(https://docs.aws.amazon.com/elasticloadbalancing/latest/application/load-balancer-listeners.html).",
        LISTENERS,
        _https_redirect,
        severity=Severity.MEDIUM,
        remediation='Make the default action type "redirect" with protocol HTTPS, or listen on '
        "HTTPS only.",
    ),
    resource_policy(
        "apigateway-endpoint-type",
        "REST APIs and custom domains use an endpoint type from `allowedTypes`; API Gateway "
        "makes an API edge-optimized by default, and only regional endpoints can sit behind "
        "Route 53 failover records in two regions "
        "(https://docs.aws.amazon.com/apigateway/latest/developerguide/api-gateway-api-endpoint-types.html).",
        ("aws:apigateway/restApi:RestApi", "aws:apigateway/domainName:DomainName"),
        _endpoint_type,
        severity=Severity.MEDIUM,
        remediation="Set endpoint_configuration.types to REGIONAL (or PRIVATE).",
        config={
            "allowedTypes": {
                "type": "array",
                "items": {"type": "string", "enum": ["EDGE", "REGIONAL", "PRIVATE"]},
                "default": ["REGIONAL", "PRIVATE"],
            }
        },
    ),
    resource_policy(
        "apigateway-cache-encrypted",
        "API Gateway methods that cache responses encrypt the cache "
        "(https://docs.aws.amazon.com/apigateway/latest/developerguide/api-gateway-caching.html).",
        ("aws:apigateway/methodSettings:MethodSettings",),
        _cache_encrypted,
        severity=Severity.MEDIUM,
        remediation="Set settings.cache_data_encrypted=True wherever caching_enabled is.",
    ),
]
