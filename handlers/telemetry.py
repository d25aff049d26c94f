"""The handlers' logs and step metrics, through stdlib `logging`: one record per event, each
carrying the run's correlation id, and step durations as CloudWatch metrics in Embedded Metric
Format (one record each; CloudWatch extracts the metric, no API call).

The functions' log format is JSON. The Lambda Python runtime then puts its own handler on the
root logger and writes each record as one JSON object: `timestamp`, `level`, `message`, `logger`,
`requestId`, and every `extra` field as a top-level member; it also sets the root logger to the
function's application log level
(https://docs.aws.amazon.com/lambda/latest/dg/python-logging.html, "Using Lambda advanced logging
controls with Python"; the formatter is `JsonFormatter` in the runtime interface client,
https://github.com/aws/aws-lambda-python-runtime-interface-client,
awslambdaric/lambda_runtime_log_utils.py). That formatter drops an extra field whose name it
already uses, and its JSON encoder has no fallback: field names below are checked, and values
must be JSON values.

The handlers set no level, so on Lambda the application log level decides; outside Lambda (the
simulation, the tests) their INFO records stop at the root logger's default WARNING.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, MutableMapping
from datetime import datetime
from typing import Any

NAMESPACE = "Trading/Failover"
LOGGER = logging.getLogger("handlers")
# With no handler anywhere up the chain, Python prints WARNING records to stderr through its
# last resort; this one keeps them out of the simulation's and the drill's output
# (https://docs.python.org/3/howto/logging.html#configuring-logging-for-a-library), and on
# Lambda they go on up to the runtime's handler on the root logger.
LOGGER.addHandler(logging.NullHandler())
# Names a record's fields may not take: the members the runtime's JSON formatter writes itself
# (it keeps its own on a clash, or drops the field: awslambdaric `lambda_runtime_log_utils.py`,
# `_RESERVED_FIELDS`), and every attribute of a LogRecord, which `extra` may not overwrite
# (Python raises KeyError: https://docs.python.org/3/library/logging.html#logging.Logger.debug).
RESERVED_NAMES = frozenset(
    {
        "timestamp",
        "level",
        "message",
        "logger",
        "requestId",
        "location",
        "stackTrace",
        "errorType",
        "errorMessage",
        "tenantId",
        "aws_request_id",
        "tenant_id",
        "_frame_type",
        "asctime",
        "taskName",
        *vars(logging.LogRecord("", logging.INFO, "", 0, "", None, None)),
    }
)


def _checked(fields: Mapping[str, Any]) -> dict[str, Any]:
    clashes = sorted(RESERVED_NAMES & set(fields))
    if clashes:
        raise ValueError(
            f"log field(s) {', '.join(clashes)}: the Lambda runtime or Python's logging uses "
            f"these names; allowed: any other name (reserved: {', '.join(sorted(RESERVED_NAMES))})"
        )
    # The runtime's JSON encoder has no fallback for a value JSON cannot hold (a datetime, an
    # exception): such a value would raise inside the log call, in the middle of a run.
    return json.loads(json.dumps(dict(fields), default=str))


class RunLog(logging.LoggerAdapter[logging.Logger]):
    """One run's logger: every record carries `correlationId` (and the run's own fields), so
    CloudWatch Logs Insights finds a whole run, across invocations, by one value."""

    def __init__(self, correlation_id: str, **fields: Any) -> None:
        super().__init__(LOGGER, _checked({"correlationId": correlation_id, **fields}))

    def process(
        self, msg: Any, kwargs: MutableMapping[str, Any]
    ) -> tuple[Any, MutableMapping[str, Any]]:
        # The stdlib adapter replaces a call's `extra` with its own; the run's fields join it.
        kwargs["extra"] = {**(kwargs.get("extra") or {}), **(self.extra or {})}
        return msg, kwargs

    def event(self, message: str, level: int = logging.INFO, **fields: Any) -> None:
        self.log(level, message, extra=_checked(fields))

    def step_metric(self, action: str, entry: Mapping[str, Any], at: datetime) -> None:
        """A timeline entry (`step`, `seconds`, `outcome`, `detail`) as a metric. The `_aws`
        member and the values it names sit at the record's top level, which is what Embedded
        Metric Format needs
        (https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Specification.html);
        the extraction ignores the record's other members. INFO, like the records it stands
        beside: at a stricter application log level the metrics would go too."""
        step, outcome = entry["step"], entry["outcome"]
        self.event(
            f"{action} step {step} {outcome}",
            _aws={
                "Timestamp": int(at.timestamp() * 1000),
                "CloudWatchMetrics": [
                    {
                        "Namespace": NAMESPACE,
                        "Dimensions": [["Action", "Step"], ["Action", "Step", "Outcome"]],
                        "Metrics": [{"Name": "StepDuration", "Unit": "Seconds"}],
                    }
                ],
            },
            Action=action,
            Step=step,
            Outcome=outcome,
            StepDuration=entry["seconds"],
            detail=entry["detail"],
        )
