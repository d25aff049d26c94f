"""Network policies, case by case: security groups, load balancers, listeners, API Gateway."""

from __future__ import annotations

from typing import Any

import pytest

from tests.test_policies import UNKNOWN, Case, R, case, check

INGRESS = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
GROUP_RULE = "aws:ec2/securityGroupRule:SecurityGroupRule"
GROUP = "aws:ec2/securityGroup:SecurityGroup"
LB = "aws:lb/loadBalancer:LoadBalancer"
CLASSIC_LB = "aws:elb/loadBalancer:LoadBalancer"
LISTENER = "aws:lb/listener:Listener"
REST_API = "aws:apigateway/restApi:RestApi"
DOMAIN = "aws:apigateway/domainName:DomainName"
METHOD_SETTINGS = "aws:apigateway/methodSettings:MethodSettings"

SG = R(GROUP, {}, "sg")
PUBLIC_LB = R(LB, {"internal": False}, "lb", {"securityGroups": [SG]})


def ingress(cidr: dict[str, Any], port: Any = 443) -> R:
    return R(INGRESS, {**cidr, "fromPort": port, "toPort": port}, "rule", {"securityGroupId": [SG]})


def redirect(protocol: Any = "HTTPS") -> dict[str, Any]:
    return {"type": "redirect", "redirect": {"protocol": protocol, "statusCode": "HTTP_301"}}


CASES = [
    case("no-open-ingress", "compliant", ingress({"cidrIpv4": "10.0.0.0/16"})),
    case(
        "no-open-ingress",
        "compliant: HTTPS on an internet-facing load balancer's group",
        [PUBLIC_LB, ingress({"cidrIpv4": "0.0.0.0/0"})],
    ),
    case(
        "no-open-ingress",
        "non-compliant",
        ingress({"cidrIpv6": "::/0"}, 22),
        "rule admits the internet (::/0)",
    ),
    case(
        "no-open-ingress",
        "non-compliant: HTTP on the load balancer's group",
        [PUBLIC_LB, ingress({"cidrIpv4": "0.0.0.0/0"}, 80)],
        "rule admits the internet (0.0.0.0/0)",
    ),
    case(
        "no-open-ingress",
        "non-compliant inline rule of a group",
        R(GROUP, {"ingress": [{"fromPort": 22, "toPort": 22, "cidrBlocks": ["0.0.0.0/0"]}]}, "sg"),
        "sg admits the internet (0.0.0.0/0)",
    ),
    case(
        "no-open-ingress",
        "missing ports (every port)",
        R(GROUP_RULE, {"type": "ingress", "cidrBlocks": ["0.0.0.0/0"]}, "rule"),
        "rule admits the internet (0.0.0.0/0)",
    ),
    case("no-open-ingress", "unknown", ingress({"cidrIpv4": UNKNOWN})),
    case(
        "alb-drop-invalid-headers",
        "compliant",
        R(LB, {"loadBalancerType": "application", "dropInvalidHeaderFields": True}),
    ),
    case(
        "alb-drop-invalid-headers",
        "non-compliant",
        R(LB, {"loadBalancerType": "application", "dropInvalidHeaderFields": False}),
        "application load balancer forwards invalid header fields (dropInvalidHeaderFields)",
    ),
    case(
        "alb-drop-invalid-headers",
        "missing (an application load balancer by default)",
        R(LB),
        "application load balancer forwards invalid header fields (dropInvalidHeaderFields)",
    ),
    case("alb-drop-invalid-headers", "unknown", R(LB, {"dropInvalidHeaderFields": UNKNOWN})),
    case(
        "alb-drop-invalid-headers",
        "compliant: a network load balancer",
        R(LB, {"loadBalancerType": "network"}),
    ),
    case(
        "elb-access-logs", "compliant", R(LB, {"accessLogs": {"bucket": "logs", "enabled": True}})
    ),
    case(
        "elb-access-logs",
        "non-compliant: a bucket without enabled",
        R(LB, {"accessLogs": {"bucket": "logs"}}),
        "application load balancer does not write access logs (accessLogs.enabled)",
    ),
    case(
        "elb-access-logs",
        "missing on a classic load balancer",
        R(CLASSIC_LB),
        "load balancer does not write access logs (accessLogs)",
    ),
    case("elb-access-logs", "unknown", R(LB, {"accessLogs": {"enabled": UNKNOWN}})),
    case(
        "elb-access-logs",
        "compliant: a network load balancer logs TLS listeners only",
        R(LB, {"loadBalancerType": "network"}),
    ),
    case("elb-deletion-protection", "compliant", R(LB, {"enableDeletionProtection": True})),
    case(
        "elb-deletion-protection",
        "non-compliant",
        R(LB, {"enableDeletionProtection": False}),
        "load balancer has no deletion protection (enableDeletionProtection is off)",
    ),
    case(
        "elb-deletion-protection",
        "missing",
        R(LB),
        "load balancer has no deletion protection (enableDeletionProtection is off)",
    ),
    case("elb-deletion-protection", "unknown", R(LB, {"enableDeletionProtection": UNKNOWN})),
    case(
        "alb-http-to-https-redirect",
        "compliant",
        R(LISTENER, {"protocol": "HTTP", "defaultActions": [redirect()]}),
    ),
    case(
        "alb-http-to-https-redirect",
        "non-compliant: forwards plain HTTP",
        R(LISTENER, {"protocol": "HTTP", "defaultActions": [{"type": "forward"}]}),
        "HTTP listener does not redirect every request to HTTPS",
    ),
    case(
        "alb-http-to-https-redirect",
        "missing protocol (HTTP by default)",
        R(LISTENER, {"defaultActions": [redirect("HTTP")]}),
        "HTTP listener does not redirect every request to HTTPS",
    ),
    case("alb-http-to-https-redirect", "unknown", R(LISTENER, {"protocol": UNKNOWN})),
    case(
        "alb-http-to-https-redirect",
        "compliant: a TCP listener",
        R(LISTENER, {"protocol": "TCP", "defaultActions": [{"type": "forward"}]}),
    ),
    case(
        "apigateway-endpoint-type",
        "compliant",
        R(REST_API, {"endpointConfiguration": {"types": "REGIONAL"}}),
    ),
    case(
        "apigateway-endpoint-type",
        "non-compliant",
        R(DOMAIN, {"endpointConfiguration": {"types": ["EDGE"]}}),
        "endpoint type EDGE is not one of REGIONAL, PRIVATE",
    ),
    case(
        "apigateway-endpoint-type",
        "missing (edge-optimized by default)",
        R(REST_API),
        "endpoint type EDGE is not one of REGIONAL, PRIVATE",
    ),
    case("apigateway-endpoint-type", "unknown", R(REST_API, {"endpointConfiguration": UNKNOWN})),
    case(
        "apigateway-endpoint-type",
        "compliant when a team allows edge endpoints",
        R(REST_API),
        config={"allowedTypes": ["EDGE"]},
    ),
    case(
        "apigateway-cache-encrypted",
        "compliant",
        R(
            METHOD_SETTINGS,
            {"methodPath": "*/*", "settings": {"cachingEnabled": True, "cacheDataEncrypted": True}},
        ),
    ),
    case(
        "apigateway-cache-encrypted",
        "non-compliant",
        R(
            METHOD_SETTINGS,
            {
                "methodPath": "*/*",
                "settings": {"cachingEnabled": True, "cacheDataEncrypted": False},
            },
        ),
        "method */* caches responses unencrypted",
    ),
    case(
        "apigateway-cache-encrypted",
        "missing encryption setting",
        R(METHOD_SETTINGS, {"methodPath": "*/*", "settings": {"cachingEnabled": True}}),
        "method */* caches responses unencrypted",
    ),
    case(
        "apigateway-cache-encrypted",
        "missing caching (no cache, nothing to encrypt)",
        R(METHOD_SETTINGS, {"methodPath": "*/*", "settings": {"throttlingRateLimit": 10}}),
    ),
    case(
        "apigateway-cache-encrypted",
        "unknown",
        R(METHOD_SETTINGS, {"settings": {"cachingEnabled": True, "cacheDataEncrypted": UNKNOWN}}),
    ),
]


@pytest.mark.parametrize("spec", CASES, ids=lambda c: c.id)
def test_network_policy(spec: Case) -> None:
    check(spec)
