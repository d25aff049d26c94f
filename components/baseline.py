"""`SecurityBaseline`: the account services the seed system promised, each switchable in
`trading:security` because some accounts run them centrally: a multi-region CloudTrail (log
file validation, KMS, CloudWatch Logs), GuardDuty with EKS audit-log and runtime monitoring,
Security Hub with AWS Foundational Security Best Practices, an AWS Config recorder, and IAM
Access Analyzer."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

from components.account import Account
from components.baseline_policies import (
    config_bucket_statements,
    config_key_usage,
    config_role_delivery_statements,
    trail_bucket_statements,
    trail_key_usage,
)
from components.context import RegionalContext
from components.iam import log_writer_role, service_role
from components.kms import customer_key, key_policy
from components.storage import Lifecycle, SecureBucket, SecureBucketArgs, account_scoped_name
from settings import SecurityBaseline as SecuritySettings

FSBP = "standards/aws-foundational-security-best-practices/v/1.0.0"
CONFIG_ROLE_POLICY = "arn:aws:iam::aws:policy/service-role/AWS_ConfigRole"
AUDIT_RETENTION_DAYS = 2557


@dataclass
class SecurityBaselineArgs:
    context: RegionalContext
    settings: SecuritySettings


class SecurityBaseline(pulumi.ComponentResource):
    def __init__(
        self, name: str, args: SecurityBaselineArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("trading:security:SecurityBaseline", name, None, opts)
        self._name = name
        self._args = args
        self._child = pulumi.ResourceOptions(parent=self)
        flags = args.settings
        if flags.cloudtrail:
            self._cloudtrail()
        if flags.guardduty:
            self._guardduty()
        if flags.security_hub:
            hub = aws.securityhub.Account(
                f"{name}-security-hub", enable_default_standards=False, opts=self._child
            )
            aws.securityhub.StandardsSubscription(
                f"{name}-fsbp",
                standards_arn=f"arn:aws:securityhub:{args.context.region}::{FSBP}",
                opts=pulumi.ResourceOptions(parent=self, depends_on=[hub]),
            )
        if flags.config_recorder:
            self._config_recorder()
        if flags.access_analyzer:
            aws.accessanalyzer.Analyzer(
                f"{name}-access-analyzer",
                analyzer_name=f"{args.context.prefix}-account",
                type="ACCOUNT",
                opts=self._child,
            )
        self.register_outputs({})

    def _bucket(
        self,
        label: str,
        statements: Callable[[str, Account], list[dict[str, Any]]],
        key: pulumi.Input[str],
    ) -> SecureBucket:
        """An audit bucket `<prefix>-<label>-<account>`; `statements(name, account)` lets the
        AWS service that fills it write there."""
        name = account_scoped_name(
            self._args.context.account, f"{self._args.context.prefix}-{label}"
        )
        return SecureBucket(
            f"{self._name}-{label}",
            SecureBucketArgs(
                bucket_name=name,
                kms_key_arn=key,
                lifecycle=Lifecycle(90, 365, AUDIT_RETENTION_DAYS),
                service_statements=pulumi.Output.all(name, self._args.context.account).apply(
                    lambda v: statements(v[0], v[1])
                ),
            ),
            self._child,
        )

    def _cloudtrail(self) -> None:
        args, name = self._args, self._name
        trail_name = f"{args.context.prefix}-trail"

        def trail_arn(account: Account) -> str:
            return account.arn("cloudtrail", f"trail/{trail_name}")

        key = customer_key(
            trail_name,
            f"Encryption of the {trail_name} audit logs",
            args.context.account.apply(lambda a: key_policy(a, trail_key_usage(a, trail_arn(a)))),
            self._child,
        )
        bucket = self._bucket(
            "trail",
            lambda bucket_name, account: trail_bucket_statements(
                bucket_name, trail_arn(account), account.account_id
            ),
            key.arn,
        )
        logs = aws.cloudwatch.LogGroup(
            f"{name}-trail-logs",
            name=f"/trading/{args.context.prefix}/cloudtrail",
            kms_key_id=args.context.logs_key_arn,
            retention_in_days=args.context.log_retention_days,
            opts=self._child,
        )
        role = log_writer_role(f"{name}-trail-logs", "cloudtrail.amazonaws.com", logs, self._child)
        aws.cloudtrail.Trail(
            f"{name}-trail",
            name=trail_name,
            s3_bucket_name=bucket.bucket_name,
            is_multi_region_trail=True,
            include_global_service_events=True,
            enable_log_file_validation=True,
            kms_key_id=key.arn,
            cloud_watch_logs_group_arn=pulumi.Output.concat(logs.arn, ":*"),
            cloud_watch_logs_role_arn=role.arn,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[bucket]),
        )

    def _guardduty(self) -> None:
        detector = aws.guardduty.Detector(
            f"{self._name}-guardduty",
            enable=True,
            finding_publishing_frequency="FIFTEEN_MINUTES",
            opts=self._child,
        )
        aws.guardduty.DetectorFeature(
            f"{self._name}-eks-audit-logs",
            detector_id=detector.id,
            name="EKS_AUDIT_LOGS",
            status="ENABLED",
            opts=self._child,
        )
        aws.guardduty.DetectorFeature(
            f"{self._name}-runtime-monitoring",
            detector_id=detector.id,
            name="RUNTIME_MONITORING",
            status="ENABLED",
            additional_configurations=[
                aws.guardduty.DetectorFeatureAdditionalConfigurationArgs(
                    name="EKS_ADDON_MANAGEMENT", status="ENABLED"
                )
            ],
            opts=self._child,
        )

    def _config_recorder(self) -> None:
        args, name = self._args, self._name
        key = customer_key(
            f"{args.context.prefix}-config",
            f"Encryption of the {args.context.prefix} AWS Config snapshots",
            args.context.account.apply(lambda a: key_policy(a, config_key_usage(a))),
            self._child,
        )
        bucket = self._bucket(
            "config",
            lambda bucket_name, account: config_bucket_statements(bucket_name, account.account_id),
            key.arn,
        )
        # The recorder runs as a role of ours, not the service-linked AWSServiceRoleForConfig:
        # that role is one per account and both stacks share the account, so each would try to
        # create it and the second would fail. Config delivers to a same-account bucket as the
        # recorder's role, so the role itself is granted the bucket and its key; the key policy
        # delegates to IAM through its account-root statement.
        role = service_role(f"{name}-config", "config.amazonaws.com", self._child)
        aws.iam.RolePolicyAttachment(
            f"{name}-config", role=role.name, policy_arn=CONFIG_ROLE_POLICY, opts=self._child
        )
        delivery = aws.iam.RolePolicy(
            f"{name}-config-delivery",
            role=role.id,
            policy=pulumi.Output.all(bucket.arn, args.context.account, key.arn).apply(
                lambda v: json.dumps(
                    {
                        "Version": "2012-10-17",
                        "Statement": config_role_delivery_statements(v[0], v[1].account_id, v[2]),
                    }
                )
            ),
            opts=self._child,
        )
        recorder = aws.cfg.Recorder(
            f"{name}-config",
            name=f"{args.context.prefix}-recorder",
            role_arn=role.arn,
            recording_group=aws.cfg.RecorderRecordingGroupArgs(
                all_supported=True, include_global_resource_types=False
            ),
            opts=self._child,
        )
        channel = aws.cfg.DeliveryChannel(
            f"{name}-config",
            name=f"{args.context.prefix}-delivery",
            s3_bucket_name=bucket.bucket_name,
            # PutDeliveryChannel refuses a bucket Config cannot write to.
            opts=pulumi.ResourceOptions(parent=self, depends_on=[recorder, bucket, delivery]),
        )
        aws.cfg.RecorderStatus(
            f"{name}-config",
            name=recorder.name,
            is_enabled=True,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[channel]),
        )
