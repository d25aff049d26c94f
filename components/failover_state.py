"""The failover state table: the one record the handler's runs change only by conditional
writes, with the lease a run in progress holds (handlers/state.py).

Apart from components/failover.py because it is the automation's only durable state, which
outlives every version of the function (hence point-in-time recovery and deletion protection).
"""

from __future__ import annotations

import pulumi
import pulumi_aws as aws


def state_table(
    name: str, prefix: str, data_key_arn: pulumi.Input[str], opts: pulumi.ResourceOptions
) -> aws.dynamodb.Table:
    """The table, keyed by `pk`, encrypted under the data key."""
    return aws.dynamodb.Table(
        f"{name}-state",
        name=f"{prefix}-failover-state",
        billing_mode="PAY_PER_REQUEST",
        hash_key="pk",
        attributes=[aws.dynamodb.TableAttributeArgs(name="pk", type="S")],
        point_in_time_recovery=aws.dynamodb.TablePointInTimeRecoveryArgs(enabled=True),
        server_side_encryption=aws.dynamodb.TableServerSideEncryptionArgs(
            enabled=True, kms_key_arn=data_key_arn
        ),
        deletion_protection_enabled=True,
        opts=opts,
    )
