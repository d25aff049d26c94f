"""Structured JSON logs with the run's correlation id, and step durations as CloudWatch metrics
in Embedded Metric Format (one log line each; CloudWatch extracts the metric, no API call)."""

from __future__ import annotations

import json
import sys
from datetime import datetime
from typing import Any

NAMESPACE = "Trading/Failover"


def log(level: str, message: str, correlation_id: str, **fields: Any) -> None:
    record = {"level": level, "message": message, "correlationId": correlation_id, **fields}
    print(json.dumps(record, default=str), file=sys.stdout, flush=True)


def step_metric(action: str, step: str, seconds: float, outcome: str, at: datetime) -> None:
    record = {
        "_aws": {
            "Timestamp": int(at.timestamp() * 1000),
            "CloudWatchMetrics": [
                {
                    "Namespace": NAMESPACE,
                    "Dimensions": [["Action", "Step"], ["Action", "Step", "Outcome"]],
                    "Metrics": [{"Name": "StepDuration", "Unit": "Seconds"}],
                }
            ],
        },
        "Action": action,
        "Step": step,
        "Outcome": outcome,
        "StepDuration": round(seconds, 3),
    }
    print(json.dumps(record), file=sys.stdout, flush=True)
