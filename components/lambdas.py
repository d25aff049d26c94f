"""What the program's Lambda functions share: code archives built from an explicit list of the
handler's source files, and Lambda's native JSON logging.

Pulumi hashes an archive as a tar of its members' names, a fixed mode, sizes and contents, with
no times (pulumi/pulumi, sdk/go/common/resource/archive/archive.go, `EnsureHashWithWD`,
`addNextFileToTar`). A directory archive (`FileArchive("handlers/")`) takes every file under the
directory (`readPath`), bytecode caches included, so its hash differs between machines and runs.
An `AssetArchive` of named `FileAsset`s holds exactly the files listed, in sorted name order
(`readAssets`): the same sources give the same hash everywhere. tests/test_lambda_packaging.py
proves each list complete by importing the handler from a copy of exactly these files, with
only the standard library and boto3 beside it.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pulumi
import pulumi_aws as aws

ROOT = Path(__file__).resolve().parent.parent

# handlers/failover.py and every module it imports, directly or through another.
FAILOVER_SOURCES = (
    "handlers/__init__.py",
    "handlers/clock.py",
    "handlers/contract.py",
    "handlers/failover.py",
    "handlers/kube.py",
    "handlers/model.py",
    "handlers/state.py",
    "handlers/steps.py",
    "handlers/telemetry.py",
)
MARKERS_SOURCES = (
    "handlers/__init__.py",
    "handlers/markers.py",
    "handlers/telemetry.py",
)

# INFO: the handlers' step metrics are INFO records, and a stricter application level would drop
# them with the logs. System INFO keeps the platform's start and report records (duration,
# memory, init) of every invocation
# (https://docs.aws.amazon.com/lambda/latest/dg/monitoring-cloudwatchlogs-log-level.html).
APPLICATION_LOG_LEVEL = "INFO"
SYSTEM_LOG_LEVEL = "INFO"


def code_archive(sources: Sequence[str]) -> pulumi.AssetArchive:
    """The listed files under their repository paths, so `handlers.<module>.handler` imports."""
    return pulumi.AssetArchive({path: pulumi.FileAsset(str(ROOT / path)) for path in sources})


def json_logging(log_group: pulumi.Input[str]) -> aws.lambda_.FunctionLoggingConfigArgs:
    """JSON records from the runtime (handlers/telemetry.py describes them) into `log_group`,
    which the component creates KMS-encrypted and with its retention."""
    return aws.lambda_.FunctionLoggingConfigArgs(
        log_format="JSON",
        application_log_level=APPLICATION_LOG_LEVEL,
        system_log_level=SYSTEM_LOG_LEVEL,
        log_group=log_group,
    )
