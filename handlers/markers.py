"""The drill's marker writer: one Lambda per region, boto3 only (no driver, no VPC).

`write`: every `intervalSeconds`, from `startAt` (or now) until `stopAt`, a numbered,
timestamped marker into this region's database, the orders table (its replica in this region)
and the records bucket; the response records, per marker and per store, when the store
acknowledged it or the error it answered. `inventory`: which markers of a run this region's
stores hold now (what the drill reads after the failover to count lost writes).

The database is written through the RDS Data API (`rds-data` ExecuteStatement), which exists
for Aurora only: Aurora PostgreSQL provisioned clusters from 13.11, 14.8, 15.3, 16.1, 17.4
(https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/Concepts.Aurora_Fea_Regions_DB-eng.Feature.Data_API.html),
once the cluster's HTTP endpoint is enabled (EnableHttpEndpoint applies to provisioned
clusters: https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_EnableHttpEndpoint.html).
In a global database a secondary cluster answers no Data API query, read or write, until it
is promoted and has a writer instance; then it does
(https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/data-api.limitations.html):
exactly the moment the drill's RTO ends on. Not on T instance classes, and on 14+ only with
scram-sha-256 passwords (same page). Credentials come from a Secrets Manager secret that the
Data API reads with the caller's own permissions
(https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/data-api.access.html).
RDS for PostgreSQL (not Aurora) has no Data API and boto3 has no other way to run SQL, so on
that tier the database is recorded as not measured, never as acknowledged.
"""

from __future__ import annotations

import functools
import logging
import os
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from boto3.session import Session
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from handlers.telemetry import RunLog

STORES = ("database", "table", "bucket")
MEASURED = "measured"
NOT_MEASURED_NO_DATA_API = (
    "not measured: RDS for PostgreSQL has no Data API and the writer runs boto3 only"
)
AURORA = "aurora-postgresql"
TABLE = "drill_markers"
CREATE_TABLE = (
    f"CREATE TABLE IF NOT EXISTS {TABLE} (run_id text NOT NULL, writer_region text NOT NULL, "
    "seq integer NOT NULL, written_at double precision NOT NULL, "
    "PRIMARY KEY (run_id, writer_region, seq))"
)
INSERT = (
    f"INSERT INTO {TABLE} (run_id, writer_region, seq, written_at) "
    "VALUES (:run, :region, :seq, :written_at) ON CONFLICT DO NOTHING"
)
SELECT = f"SELECT writer_region, seq FROM {TABLE} WHERE run_id = :run"
# One invocation stays under the Lambda's 15-minute maximum with room to answer.
MAX_WINDOW_SECONDS = 840
DEADLINE_MARGIN_SECONDS = 20
_RUN = re.compile(r"^[a-z0-9-]{1,40}$")
_REGION = re.compile(r"^[a-z]{2}(-[a-z]+)+-[0-9]$")

# The environment the component sets and the handler reads: one definition.
ENV_REGION = "MARKER_REGION"
ENV_TABLE = "MARKER_TABLE"
ENV_BUCKET = "MARKER_BUCKET"
ENV_DB_ENGINE = "MARKER_DB_ENGINE"
ENV_DB_CLUSTER_ARN = "MARKER_DB_CLUSTER_ARN"
ENV_DB_SECRET_NAME = "MARKER_DB_SECRET_NAME"
ENV_DB_NAME = "MARKER_DB_NAME"
REQUIRED_ENV = (ENV_REGION, ENV_TABLE, ENV_BUCKET, ENV_DB_ENGINE)


class EventError(ValueError):
    """The event is not a marker command: rejected before any AWS call."""


class Clock(Protocol):
    def time(self) -> float: ...

    def sleep(self, seconds: float) -> None: ...


class _SystemClock:
    def time(self) -> float:
        return time.time()

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)


SYSTEM = _SystemClock()


def table_key(run: str, region: str, seq: int) -> str:
    return f"drill-marker#{run}#{region}#{seq:06d}"


def object_key(run: str, region: str, seq: int) -> str:
    return f"markers/{run}/{region}/{seq:06d}"


class SettingsError(RuntimeError):
    """The writer's environment lacks a variable or holds a value it cannot use."""


ENGINES = ("postgres", AURORA)
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:/=+@-]{0,511}$")
_ARN = re.compile(r"^arn:aws[a-z-]*:[a-z0-9-]+:[a-z0-9-]*:\d{12}:.+$")
_NAME_RULE = "a name of letters, digits and _.:/=+@- (at most 512)"
# Each variable but the engine: its pattern, what that allows, and whether it may be "" (unset).
_RULES: dict[str, tuple[re.Pattern[str], str, bool]] = {
    ENV_REGION: (_REGION, "an AWS region such as us-west-2", False),
    ENV_TABLE: (_NAME, _NAME_RULE, False),
    ENV_BUCKET: (_NAME, _NAME_RULE, False),
    ENV_DB_CLUSTER_ARN: (_ARN, "a DB cluster ARN", True),
    ENV_DB_SECRET_NAME: (_NAME, _NAME_RULE, True),
    ENV_DB_NAME: (_NAME, _NAME_RULE, False),
}


@dataclass(frozen=True)
class Settings:
    """The writer's environment, defined once: the component writes it (`encode`, `to_env`)
    and the handler reads it (`from_environment`), through the same checks."""

    region: str
    table_name: str
    bucket_name: str
    db_engine: str
    # Aurora only: the cluster the Data API writes to and its master credentials' secret.
    db_cluster_arn: str = ""
    db_secret_name: str = ""
    db_name: str = "trading"

    def __post_init__(self) -> None:
        for name, value in self._variables().items():
            self.encode(name, value)
        aurora = self.db_engine == AURORA
        database = (self.db_cluster_arn, self.db_secret_name)
        if (aurora and not all(database)) or (not aurora and any(database)):
            raise SettingsError(
                f"marker writer: {ENV_DB_ENGINE}={self.db_engine!r} with "
                f"{ENV_DB_CLUSTER_ARN}={self.db_cluster_arn!r} and "
                f"{ENV_DB_SECRET_NAME}={self.db_secret_name!r}: {AURORA} needs both, "
                "postgres neither (it has no Data API)"
            )

    def _variables(self) -> dict[str, str]:
        return {
            ENV_REGION: self.region,
            ENV_TABLE: self.table_name,
            ENV_BUCKET: self.bucket_name,
            ENV_DB_ENGINE: self.db_engine,
            ENV_DB_CLUSTER_ARN: self.db_cluster_arn,
            ENV_DB_SECRET_NAME: self.db_secret_name,
            ENV_DB_NAME: self.db_name,
        }

    def to_env(self) -> dict[str, str]:
        """The variables the component sets; the Aurora-only ones only on Aurora."""
        return {name: value for name, value in self._variables().items() if value}

    @staticmethod
    def encode(name: str, value: str) -> str:
        """Variable `name` holding `value`, checked as the handler checks it."""
        if name == ENV_DB_ENGINE:
            if value not in ENGINES:
                raise SettingsError(
                    f"marker writer: {name}={value!r} is not one of {', '.join(ENGINES)}"
                )
            return value
        if name not in _RULES:
            raise SettingsError(f"marker writer: {name!r} is not one of its variables")
        pattern, allowed, optional = _RULES[name]
        if optional and value == "":
            return value
        if not (isinstance(value, str) and pattern.match(value)):
            unset = ' or "" (unset)' if optional else ""
            raise SettingsError(
                f"marker writer: {name}={value!r} is malformed: expected {allowed}{unset}"
            )
        return value

    @classmethod
    def from_environment(cls, env: Mapping[str, str]) -> Settings:
        missing = [name for name in REQUIRED_ENV if not env.get(name)]
        if missing:
            raise SettingsError(
                f"marker writer: environment variable(s) {', '.join(missing)} unset"
            )
        return cls(
            region=env[ENV_REGION],
            table_name=env[ENV_TABLE],
            bucket_name=env[ENV_BUCKET],
            db_engine=env[ENV_DB_ENGINE],
            db_cluster_arn=env.get(ENV_DB_CLUSTER_ARN, ""),
            db_secret_name=env.get(ENV_DB_SECRET_NAME, ""),
            db_name=env.get(ENV_DB_NAME) or "trading",
        )

    def store_status(self) -> dict[str, str]:
        database = MEASURED if self.db_engine == AURORA else NOT_MEASURED_NO_DATA_API
        return {"database": database, "table": MEASURED, "bucket": MEASURED}


@dataclass(frozen=True)
class WriteCommand:
    run: str
    stop_at: float
    start_at: float | None = None
    interval_seconds: float = 1.0
    first_seq: int = 0
    # dr's writer: stop this many markers after every measured store first acknowledged one.
    settle_markers: int | None = None


@dataclass(frozen=True)
class InventoryCommand:
    run: str
    # Region -> the sequence numbers to look for in the table and the bucket (the database
    # answers for the whole run in one query).
    markers: Mapping[str, list[int]]


def _number(event: Mapping[str, Any], key: str, low: float, high: float) -> float:
    value = event.get(key)
    if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high:
        raise EventError(f"{key}={value!r}: a number from {low:g} to {high:g} is allowed")
    return float(value)


def parse_event(event: Any, now: float) -> WriteCommand | InventoryCommand:
    if not isinstance(event, Mapping):
        raise EventError(f"the event is {type(event).__name__}, not an object")
    run = event.get("run")
    if not isinstance(run, str) or not _RUN.match(run):
        raise EventError(f"run={run!r}: 1 to 40 of a-z, 0-9 and '-' are allowed")
    action = event.get("action")
    if action == "write":
        start_at = (
            _number(event, "startAt", now - 60, now + MAX_WINDOW_SECONDS)
            if event.get("startAt") is not None
            else None
        )
        stop_at = _number(event, "stopAt", now, (start_at or now) + MAX_WINDOW_SECONDS)
        settle = event.get("settleMarkers")
        if settle is not None:
            settle = int(_number(event, "settleMarkers", 0, 600))
        return WriteCommand(
            run=run,
            stop_at=stop_at,
            start_at=start_at,
            interval_seconds=_number(event, "intervalSeconds", 0.01, 60),
            first_seq=int(_number(event, "firstSeq", 0, 99_999)) if "firstSeq" in event else 0,
            settle_markers=settle,
        )
    if action == "inventory":
        markers = event.get("markers")
        if not isinstance(markers, Mapping) or not all(
            isinstance(region, str)
            and _REGION.match(region)
            and isinstance(seqs, list)
            and all(isinstance(s, int) and not isinstance(s, bool) and s >= 0 for s in seqs)
            for region, seqs in markers.items()
        ):
            raise EventError("markers: an object of region -> list of marker numbers is allowed")
        return InventoryCommand(run=run, markers={r: list(s) for r, s in markers.items()})
    raise EventError(f"action={action!r}: write or inventory are allowed")


@dataclass(frozen=True)
class Clients:
    dynamodb: Any
    s3: Any
    rds_data: Any
    secretsmanager: Any


def clients(region: str, session: Session | None = None) -> Clients:
    # Short timeouts and one retry: a store that does not answer within seconds has not
    # acknowledged, and the next marker must not wait on it.
    config = Config(
        region_name=region,
        connect_timeout=3,
        read_timeout=10,
        retries={"max_attempts": 2, "mode": "standard"},
    )
    session = session or Session()
    return Clients(
        dynamodb=session.client("dynamodb", config=config),
        s3=session.client("s3", config=config),
        rds_data=session.client("rds-data", config=config),
        secretsmanager=session.client("secretsmanager", config=config),
    )


def _error(error: Exception) -> str:
    if isinstance(error, ClientError):
        return str(error.response.get("Error", {}).get("Code", "ClientError"))
    return type(error).__name__


class Stores:
    """This region's three stores, as the writer reaches them."""

    def __init__(self, settings: Settings, aws: Clients) -> None:
        self.settings = settings
        self.aws = aws
        self._secret_arn = ""
        self._table_ready = False

    def _statement(self, sql: str, parameters: list[dict[str, Any]]) -> dict[str, Any]:
        if not self._secret_arn:
            # The Data API takes the secret's full ARN (its name plus six random characters,
            # https://docs.aws.amazon.com/secretsmanager/latest/apireference/API_CreateSecret.html);
            # a replicated secret keeps its name in every region, so the name is configured.
            self._secret_arn = self.aws.secretsmanager.describe_secret(
                SecretId=self.settings.db_secret_name
            )["ARN"]
        return self.aws.rds_data.execute_statement(
            resourceArn=self.settings.db_cluster_arn,
            secretArn=self._secret_arn,
            database=self.settings.db_name,
            sql=sql,
            parameters=parameters,
        )

    def put_database(self, run: str, seq: int, at: float) -> None:
        # The program runs no SQL at deploy time, so the first write creates the table; on a
        # secondary it fails like the insert until promotion, and after it the table is there
        # (replicated from the primary) or created now.
        if not self._table_ready:
            self._statement(CREATE_TABLE, [])
            self._table_ready = True
        self._statement(
            INSERT,
            [
                {"name": "run", "value": {"stringValue": run}},
                {"name": "region", "value": {"stringValue": self.settings.region}},
                {"name": "seq", "value": {"longValue": seq}},
                {"name": "written_at", "value": {"doubleValue": at}},
            ],
        )

    def put_table(self, run: str, seq: int, at: float) -> None:
        self.aws.dynamodb.put_item(
            TableName=self.settings.table_name,
            Item={
                "order_id": {"S": table_key(run, self.settings.region, seq)},
                "drill_run": {"S": run},
                "drill_marker_at": {"N": repr(at)},
            },
        )

    def put_bucket(self, run: str, seq: int, at: float) -> None:
        self.aws.s3.put_object(
            Bucket=self.settings.bucket_name,
            Key=object_key(run, self.settings.region, seq),
            Body=repr(at).encode(),
        )

    def database_holds(self, run: str) -> dict[str, list[int]]:
        records = self._statement(SELECT, [{"name": "run", "value": {"stringValue": run}}])
        held: dict[str, list[int]] = {}
        for region, seq in records.get("records", []):
            held.setdefault(region["stringValue"], []).append(int(seq["longValue"]))
        return {region: sorted(seqs) for region, seqs in held.items()}

    def table_holds(self, run: str, region: str, seq: int) -> bool:
        item = self.aws.dynamodb.get_item(
            TableName=self.settings.table_name,
            Key={"order_id": {"S": table_key(run, region, seq)}},
            ConsistentRead=True,
        )
        return "Item" in item

    def bucket_holds(self, run: str, region: str, seq: int) -> bool:
        try:
            self.aws.s3.get_object(
                Bucket=self.settings.bucket_name, Key=object_key(run, region, seq)
            )
        except ClientError as error:
            # With s3:ListBucket a missing key answers 404 NoSuchKey, without it 403
            # (https://docs.aws.amazon.com/AmazonS3/latest/API/API_GetObject.html,
            # Permissions): the role has it, so a 403 is a real denial and raises.
            if error.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
                return False
            raise
        return True


def write_markers(
    settings: Settings,
    command: WriteCommand,
    stores: Stores,
    clock: Clock = SYSTEM,
    deadline: float | None = None,
) -> dict[str, Any]:
    """Markers until `stopAt` (or `deadline`, the Lambda's own), each store's answer recorded."""
    status = settings.store_status()
    measured = [store for store in STORES if status[store] == MEASURED]
    writers: dict[str, Callable[[str, int, float], None]] = {
        "database": stores.put_database,
        "table": stores.put_table,
        "bucket": stores.put_bucket,
    }
    stop_at = min(command.stop_at, deadline) if deadline is not None else command.stop_at
    if command.start_at is not None and command.start_at > clock.time():
        clock.sleep(command.start_at - clock.time())
    started = clock.time()
    markers: list[dict[str, Any]] = []
    first_ack: dict[str, float] = {}
    settled_at: int | None = None
    index = 0
    while True:
        scheduled = started + index * command.interval_seconds
        if scheduled >= stop_at:
            break
        if scheduled > clock.time():
            clock.sleep(scheduled - clock.time())
        seq = command.first_seq + index
        attempted = clock.time()
        answers: dict[str, dict[str, Any]] = {}
        for store in measured:
            try:
                writers[store](command.run, seq, attempted)
                answers[store] = {"ackAt": clock.time()}
                first_ack.setdefault(store, answers[store]["ackAt"])
            except (ClientError, BotoCoreError) as error:
                answers[store] = {"error": _error(error)}
        markers.append({"seq": seq, "attemptedAt": attempted, "stores": answers})
        index += 1
        if command.settle_markers is not None and measured and len(first_ack) == len(measured):
            settled_at = index if settled_at is None else settled_at
            if index - settled_at >= command.settle_markers:
                break
    return {
        "action": "write",
        "run": command.run,
        "region": settings.region,
        "storeStatus": status,
        "startedAt": started,
        "stopAt": stop_at,
        "stoppedAt": clock.time(),
        "markers": markers,
    }


def inventory(settings: Settings, command: InventoryCommand, stores: Stores) -> dict[str, Any]:
    """Which of the run's markers this region's stores hold now."""
    status = settings.store_status()
    held: dict[str, Any] = {}
    if status["database"] == MEASURED:
        held["database"] = stores.database_holds(command.run)
    held["table"] = {
        region: [s for s in seqs if stores.table_holds(command.run, region, s)]
        for region, seqs in command.markers.items()
    }
    held["bucket"] = {
        region: [s for s in seqs if stores.bucket_holds(command.run, region, s)]
        for region, seqs in command.markers.items()
    }
    return {
        "action": "inventory",
        "run": command.run,
        "region": settings.region,
        "storeStatus": status,
        "held": held,
    }


def run(
    event: Any,
    settings_source: Callable[[], Settings],
    clients_for: Callable[[str], Clients],
    clock: Clock = SYSTEM,
    deadline: float | None = None,
) -> dict[str, Any]:
    """Parse first: a malformed event touches no AWS API (not even the environment). The
    drill's run id is the correlation id of every record, as it is of the markers."""
    try:
        command = parse_event(event, clock.time())
    except EventError as error:
        run = event.get("run") if isinstance(event, Mapping) else None
        log = RunLog(run if isinstance(run, str) else "unparsed")
        log.event("marker event rejected", logging.WARNING, why=str(error))
        return {"outcome": "REJECTED", "error": str(error)}
    settings = settings_source()
    log = RunLog(command.run, region=settings.region)
    stores = Stores(settings, clients_for(settings.region))
    if isinstance(command, WriteCommand):
        written = write_markers(settings, command, stores, clock, deadline)
        log.event("markers written", **_acknowledged(written["markers"]))
        return {"outcome": "DONE", **written}
    try:
        held = inventory(settings, command, stores)
    except (ClientError, BotoCoreError) as error:
        log.event("inventory failed", logging.ERROR, why=_error(error))
        return {"outcome": "FAILED", "error": _error(error), "region": settings.region}
    log.event(
        "inventory taken",
        held={
            store: sum(len(seqs) for seqs in by_region.values())
            for store, by_region in held["held"].items()
        },
    )
    return {"outcome": "DONE", **held}


def _acknowledged(markers: list[dict[str, Any]]) -> dict[str, Any]:
    """Per store, how many markers it acknowledged and which errors it answered."""
    acks: dict[str, int] = {}
    errors: dict[str, dict[str, int]] = {}
    for marker in markers:
        for store, answer in marker["stores"].items():
            if "ackAt" in answer:
                acks[store] = acks.get(store, 0) + 1
            else:
                by_code = errors.setdefault(store, {})
                by_code[answer["error"]] = by_code.get(answer["error"], 0) + 1
    return {"markers": len(markers), "acknowledged": acks, "errors": errors}


@functools.cache
def _settings() -> Settings:
    return Settings.from_environment(os.environ)


def handler(event: Any, context: Any) -> dict[str, Any]:
    remaining = context.get_remaining_time_in_millis() / 1000 if context is not None else None
    deadline = None if remaining is None else time.time() + remaining - DEADLINE_MARGIN_SECONDS
    return run(event, _settings, clients, deadline=deadline)
