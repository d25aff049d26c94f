"""The API's edge (components/entry.py builds it): the certificate for the failover name and
the region's own, the custom domains that serve them, and the WAF in front of the stage."""

from __future__ import annotations

import pulumi
import pulumi_aws as aws

from components.context import RegionalContext
from settings import Dns

MANAGED_RULE_GROUPS = ("AWSManagedRulesCommonRuleSet", "AWSManagedRulesKnownBadInputsRuleSet")


def _visibility(metric: str) -> aws.wafv2.WebAclRuleVisibilityConfigArgs:
    return aws.wafv2.WebAclRuleVisibilityConfigArgs(
        cloudwatch_metrics_enabled=True, metric_name=metric, sampled_requests_enabled=True
    )


def validated_certificate(
    name: str, dns: Dns, hostname: str, parent: pulumi.Resource
) -> pulumi.Output[str]:
    """One certificate for the failover name and the region's own name, DNS-validated in
    the zone. Both regions hold a certificate for the failover name: either may serve it."""
    child = pulumi.ResourceOptions(parent=parent)
    names = [dns.record_name, hostname]
    certificate = aws.acm.Certificate(
        f"{name}-certificate",
        domain_name=names[0],
        subject_alternative_names=names[1:],
        validation_method="DNS",
        opts=child,
    )
    records = []
    for label, domain in zip(("public", "regional"), names, strict=True):
        option = certificate.domain_validation_options.apply(
            lambda options, d=domain: next(o for o in options if o.domain_name == d)
        )
        records.append(
            aws.route53.Record(
                f"{name}-{label}-validation",
                zone_id=dns.zone_id,
                name=option.apply(lambda o: o.resource_record_name or ""),
                type=option.apply(lambda o: o.resource_record_type or "CNAME"),
                records=[option.apply(lambda o: o.resource_record_value or "")],
                ttl=300,
                # Both stacks validate the shared failover name with the same record (ACM
                # gives one validation CNAME per domain name); the regional names are each
                # stack's own.
                allow_overwrite=label == "public",
                opts=pulumi.ResourceOptions(
                    parent=parent,
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
        opts=child,
    )
    return validation.certificate_arn


def custom_domain(
    name: str,
    label: str,
    hostname: str,
    *,
    certificate_arn: pulumi.Output[str],
    stage: aws.apigateway.Stage,
    parent: pulumi.Resource,
) -> aws.apigateway.DomainName:
    """`hostname` on the API's stage, TLS 1.2 with `certificate_arn`."""
    child = pulumi.ResourceOptions(parent=parent)
    domain = aws.apigateway.DomainName(
        f"{name}-{label}-domain",
        domain_name=hostname,
        regional_certificate_arn=certificate_arn,
        endpoint_configuration=aws.apigateway.DomainNameEndpointConfigurationArgs(types="REGIONAL"),
        security_policy="TLS_1_2",
        opts=child,
    )
    aws.apigateway.BasePathMapping(
        f"{name}-{label}-mapping",
        rest_api=stage.rest_api,
        stage_name=stage.stage_name,
        domain_name=domain.domain_name,
        opts=child,
    )
    return domain


def firewall(
    name: str, context: RegionalContext, stage: aws.apigateway.Stage, parent: pulumi.Resource
) -> None:
    """AWS's managed common and known-bad-inputs rule groups in front of the API's stage."""
    child = pulumi.ResourceOptions(parent=parent)
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
        f"{name}-waf",
        name=f"{context.prefix}-gateway",
        scope="REGIONAL",
        default_action=aws.wafv2.WebAclDefaultActionArgs(
            allow=aws.wafv2.WebAclDefaultActionAllowArgs()
        ),
        rules=managed,
        visibility_config=aws.wafv2.WebAclVisibilityConfigArgs(
            cloudwatch_metrics_enabled=True,
            metric_name=f"{context.prefix}-gateway",
            sampled_requests_enabled=True,
        ),
        opts=child,
    )
    aws.wafv2.WebAclAssociation(
        f"{name}-waf",
        resource_arn=stage.arn,
        web_acl_arn=acl.arn,
        opts=child,
    )
