"""The failover state record: one DynamoDB item, changed only by conditional writes.

standby -> failing-over -> active-in-dr -> failing-back -> standby, with `failed` when a run
ended with a failed step (a new failover or failback may start from there). A transition
succeeds only from the state it expects, so two triggers can never run at once: the second
one's conditional write fails and it reports the state it found instead.

A run in progress holds a lease (`lease_until`, epoch seconds) that it renews while it works.
A run that dies without finishing (a timeout, a crash, a killed host) leaves its state behind,
but its lease expires: a later run of the same action may then take the record over and resume,
each step doing only what is left. A run whose lease was taken over can no longer renew it, and
stops.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

KEY = {"pk": {"S": "failover"}}

STANDBY = "standby"
FAILING_OVER = "failing-over"
ACTIVE_IN_DR = "active-in-dr"
FAILING_BACK = "failing-back"
FAILED = "failed"


IN_PROGRESS = (FAILING_OVER, FAILING_BACK)


class LeaseLostError(Exception):
    """Another run took the record over: this one must stop acting."""


@dataclass(frozen=True)
class State:
    name: str
    run_id: str
    probe_failures: int
    detail: str
    lease_until: float = 0.0
    action: str = ""
    # The Batch Replication job a failback started: a later failback run that takes over from
    # this one checks it before starting another (handlers/failover.py `_batch_replicate`).
    batch_job: str = ""

    @classmethod
    def from_item(cls, item: dict[str, Any] | None) -> State:
        if not item:
            return cls(STANDBY, "", 0, "")
        return cls(
            item["state"]["S"],
            item.get("run_id", {}).get("S", ""),
            int(item.get("probe_failures", {}).get("N", "0")),
            item.get("detail", {}).get("S", ""),
            float(item.get("lease_until", {}).get("N", "0")),
            item.get("action", {}).get("S", ""),
            item.get("batch_job", {}).get("S", ""),
        )


class StateStore:
    def __init__(self, dynamodb: Any, table: str) -> None:
        self._dynamodb = dynamodb
        self._table = table

    def read(self) -> State:
        response = self._dynamodb.get_item(TableName=self._table, Key=KEY, ConsistentRead=True)
        return State.from_item(response.get("Item"))

    def transition(
        self,
        expected: tuple[str, ...],
        new: str,
        run_id: str,
        *,
        action: str,
        now: float,
        lease_seconds: float,
        detail: str = "",
    ) -> State | None:
        """Move to the in-progress state `new` if the state is one of `expected` (a missing
        item counts as standby) or is `new` itself under an expired lease (a dead run's).
        Returns the state replaced, or None, changing nothing, when another run holds it."""
        names = {f":s{i}": {"S": s} for i, s in enumerate(expected)}
        condition = " OR ".join(f"#state = :s{i}" for i in range(len(expected)))
        if STANDBY in expected:
            condition = f"attribute_not_exists(#state) OR {condition}"
        # A record written before leases existed has none: it counts as expired.
        condition += (
            " OR (#state = :new AND (attribute_not_exists(lease_until) OR lease_until < :now))"
        )
        try:
            response = self._dynamodb.update_item(
                TableName=self._table,
                Key=KEY,
                # The replaced record (ALL_OLD) still tells the new run which Batch
                # Replication job its predecessor left; the record itself forgets it, so that
                # only the run holding it can name one.
                UpdateExpression="SET #state = :new, run_id = :run, detail = :detail, "
                "probe_failures = :zero, lease_until = :lease, #action = :action "
                "REMOVE batch_job",
                ConditionExpression=condition,
                ExpressionAttributeNames={"#state": "state", "#action": "action"},
                ExpressionAttributeValues={
                    **names,
                    ":new": {"S": new},
                    ":run": {"S": run_id},
                    ":detail": {"S": detail},
                    ":zero": {"N": "0"},
                    ":now": {"N": _number(now)},
                    ":lease": {"N": _number(now + lease_seconds)},
                    ":action": {"S": action},
                },
                ReturnValues="ALL_OLD",
            )
        except ClientError as error:
            if error.response["Error"]["Code"] == "ConditionalCheckFailedException":
                return None
            raise
        return State.from_item(response.get("Attributes"))

    def renew(self, run_id: str, now: float, lease_seconds: float) -> None:
        """Extend this run's lease; LeaseLostError when another run has taken the record."""
        try:
            self._dynamodb.update_item(
                TableName=self._table,
                Key=KEY,
                UpdateExpression="SET lease_until = :lease",
                ConditionExpression="run_id = :run",
                ExpressionAttributeValues={
                    ":run": {"S": run_id},
                    ":lease": {"N": _number(now + lease_seconds)},
                },
            )
        except ClientError as error:
            if error.response["Error"]["Code"] == "ConditionalCheckFailedException":
                raise LeaseLostError(f"run {run_id} no longer holds the failover lock") from None
            raise

    def note_batch_job(self, run_id: str, job_id: str) -> None:
        """Record the Batch Replication job this run waits on, while it holds the record; an
        empty `job_id` forgets it once the run has seen it complete."""
        update = (
            {
                "UpdateExpression": "SET batch_job = :job",
                "ExpressionAttributeValues": {":run": {"S": run_id}, ":job": {"S": job_id}},
            }
            if job_id
            else {
                "UpdateExpression": "REMOVE batch_job",
                "ExpressionAttributeValues": {":run": {"S": run_id}},
            }
        )
        try:
            self._dynamodb.update_item(
                TableName=self._table, Key=KEY, ConditionExpression="run_id = :run", **update
            )
        except ClientError as error:
            if error.response["Error"]["Code"] == "ConditionalCheckFailedException":
                raise LeaseLostError(f"run {run_id} no longer holds the failover lock") from None
            raise

    def finish(self, run_id: str, new: str, detail: str) -> None:
        """End the run this caller owns and release its lease; the condition on run_id keeps
        it from ending another's. Only a failed run keeps a Batch Replication job on record
        (one it did not see complete), for the run that resumes it."""
        forget = "" if new == FAILED else " REMOVE batch_job"
        self._dynamodb.update_item(
            TableName=self._table,
            Key=KEY,
            UpdateExpression="SET #state = :new, detail = :detail, lease_until = :zero" + forget,
            ConditionExpression="run_id = :run",
            ExpressionAttributeNames={"#state": "state"},
            ExpressionAttributeValues={
                ":new": {"S": new},
                ":run": {"S": run_id},
                ":detail": {"S": detail},
                ":zero": {"N": "0"},
            },
        )

    def count_probe_failure(self) -> int:
        """Add one consecutive probe failure while standing by; returns the new count (0 when
        not standing by, where the probe must not act)."""
        try:
            response = self._dynamodb.update_item(
                TableName=self._table,
                Key=KEY,
                UpdateExpression="SET #state = if_not_exists(#state, :standby) "
                "ADD probe_failures :one",
                ConditionExpression="attribute_not_exists(#state) OR #state = :standby",
                ExpressionAttributeNames={"#state": "state"},
                ExpressionAttributeValues={":one": {"N": "1"}, ":standby": {"S": STANDBY}},
                ReturnValues="ALL_NEW",
            )
        except ClientError as error:
            if error.response["Error"]["Code"] == "ConditionalCheckFailedException":
                return 0
            raise
        return int(response["Attributes"]["probe_failures"]["N"])

    def reset_probe_failures(self) -> None:
        try:
            self._dynamodb.update_item(
                TableName=self._table,
                Key=KEY,
                UpdateExpression="SET probe_failures = :zero",
                ConditionExpression="attribute_exists(#state)",
                ExpressionAttributeNames={"#state": "state"},
                ExpressionAttributeValues={":zero": {"N": "0"}},
            )
        except ClientError as error:
            if error.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise


def _number(value: float) -> str:
    return f"{value:.3f}"
