"""`trading:database`, `trading:replication`, `trading:records` and `trading:objectives`: the
data tier and what it promises."""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal, Self

from pydantic import Field, PrivateAttr, ValidationInfo, field_validator, model_validator

from settings.errors import ABSENT, Problems, invalid, required
from settings.fields import Matches, Model, OneOf, Whole

DATABASE_ENGINES = ("postgres", "aurora-postgresql")
REPLICATION_DIRECTIONS = ("primary-to-dr", "dr-to-primary")

# The design's ceiling: one region lost costs at most 15 minutes of service and 5 of data.
MAX_RTO_SECONDS = 900
MAX_RPO_SECONDS = 300

# Minor engine upgrades are automatic on every RDS instance (components.database_postgres applies
# this): RDS moves the minor in the maintenance window and retires old minors, so a configured
# minor would be reverted (or refused) on the next `up`. Only a major version, digits alone, is
# accepted.
AUTO_MINOR_VERSION_UPGRADE = True
_MAJOR_VERSION = re.compile(r"^[1-9][0-9]*$")
_MAJOR_VERSION_ALLOWED = (
    'a major version only, digits like "16": minor upgrades are automatic '
    "(autoMinorVersionUpgrade), so RDS chooses and moves the minor"
)

# A managed switchover or failover of an Aurora global database needs the same version and
# patch level in both regions (Aurora User Guide, "Upgrading an Amazon Aurora global
# database"), and a minor upgrade is a runbook (README, "Aurora minor upgrades"), not automatic;
# the provider also records the version AWS reports for a global cluster, so a major alone would
# show as a change on every `up`. Aurora takes major.minor.
_AURORA_VERSION = re.compile(r"^[1-9][0-9]*\.[0-9]+$")
_AURORA_VERSION_ALLOWED = (
    'major.minor like "16.6": an Aurora global database runs the same version in both regions '
    "and its minor is upgraded by a runbook, not automatically"
)

# The RDS Data API, which the drill's marker writer uses on Aurora, starts at these minors and
# does not run on T instance classes (Aurora User Guide, "Supported Regions and Aurora DB
# engines for the RDS Data API" and "Data API limitations").
_DATA_API_MINIMUM = {13: 11, 14: 8, 15: 3, 16: 1}
_DATA_API_ALLOWED = "13.11, 14.8, 15.3, 16.1 or later (the RDS Data API the drill uses)"

_INSTANCE_CLASS = r"^db\.[a-z0-9-]+\.[a-z0-9]+$"


class Database(Model):
    engine: Annotated[Literal["postgres", "aurora-postgresql"], OneOf(*DATABASE_ENGINES)] = Field(
        description="an RDS PostgreSQL cross-region read replica, or an Aurora global database"
    )
    engine_version: str = Field(
        default=ABSENT,
        validate_default=True,
        description="postgres: the major only (16), minor upgrades are automatic; "
        "aurora-postgresql: major.minor (16.6), the same in both stacks, upgraded by the "
        "README's runbook, "
        "13.11, 14.8, 15.3, 16.1 or later (the RDS Data API the drill uses)",
    )
    instance_class: Annotated[
        str, Matches(_INSTANCE_CLASS, "an RDS instance class like db.r7g.xlarge")
    ] = Field(description="RDS instance class; Aurora: not db.t* (Data API)")
    replica_class: Annotated[
        str | None,
        Matches(
            _INSTANCE_CLASS,
            "an RDS instance class like db.r7g.large (default: database.instanceClass)",
        ),
    ] = Field(default=None, alias="replicaInstanceClass", description="class of the dr replica")
    allocated_storage_gb: Annotated[int, Whole(20, 65536)] = Field(
        default=100, description="storage of an RDS PostgreSQL instance"
    )
    # Point-in-time recovery needs a week of backups to cover a failback's re-sync window.
    backup_retention_days: Annotated[int, Whole(7, 35)] = Field(
        default=14, description="days of automated backups (point-in-time recovery)"
    )

    @field_validator("engine_version", mode="before")
    @classmethod
    def _version_for_engine(cls, version: Any, info: ValidationInfo) -> str:
        aurora = info.data.get("engine") == "aurora-postgresql"
        pattern, allowed = (
            (_AURORA_VERSION, _AURORA_VERSION_ALLOWED)
            if aurora
            else (_MAJOR_VERSION, _MAJOR_VERSION_ALLOWED)
        )
        if version is ABSENT:
            raise required(allowed)
        if isinstance(version, int) and not isinstance(version, bool):
            version = str(version)  # `engineVersion: 16` unquoted in YAML
        if not isinstance(version, str) or not pattern.match(version):
            raise invalid(allowed)
        return version

    @model_validator(mode="after")
    def _aurora_runs_the_data_api(self) -> Self:
        problems = Problems()
        if self.is_aurora:
            major, minor = (int(part) for part in self.engine_version.split("."))
            if minor < _DATA_API_MINIMUM.get(major, 0) or major < min(_DATA_API_MINIMUM):
                problems.invalid(("engineVersion",), self.engine_version, _DATA_API_ALLOWED)
            for key, chosen in (
                ("instanceClass", self.instance_class),
                ("replicaInstanceClass", self.replica_class),
            ):
                if chosen is not None and chosen.startswith("db.t"):
                    problems.invalid(
                        (key,),
                        chosen,
                        "a non-burstable class (not db.t*): the RDS Data API does not run on T "
                        "classes",
                    )
        problems.raise_any("Database")
        return self

    @property
    def replica_instance_class(self) -> str:
        return self.replica_class or self.instance_class

    @property
    def is_aurora(self) -> bool:
        return self.engine == "aurora-postgresql"

    @property
    def major_version(self) -> str:
        return self.engine_version.split(".", 1)[0]


class Replication(Model):
    """Which way data flows. `dr-to-primary` is the failback set-up: dr holds the writer and the
    former primary is rebuilt as its replica (README, "Failback runbook")."""

    direction: Annotated[
        Literal["primary-to-dr", "dr-to-primary"], OneOf(*REPLICATION_DIRECTIONS)
    ] = Field(
        default="primary-to-dr",
        description="which region holds the writers; dr-to-primary after a failover rebuilds "
        "the primary as dr's replica and replicates dr's records bucket to the primary's; with "
        "aurora-postgresql, only dr may set it, and it reverses the records bucket alone (README, "
        '"Failback runbook")',
    )
    _peer_stack: str = PrivateAttr("")

    @property
    def reversed(self) -> bool:
        return self.direction == "dr-to-primary"

    @property
    def peer_stack(self) -> str:
        """The stack whose outputs this one reads: the primary, for dr; dr, for the primary
        while the direction is reversed; empty otherwise."""
        return self._peer_stack

    def reading(self, peer_stack: str) -> Replication:
        read = self.model_copy()
        read._peer_stack = peer_stack
        return read


class Records(Model):
    """Lifecycle of the trade and audit records bucket."""

    # S3 moves objects to STANDARD_IA only after 30 days.
    archive_after_days: Annotated[int, Whole(30, 3650)] = Field(
        default=90, description="move objects to STANDARD_IA after"
    )
    noncurrent_expiry_days: Annotated[int, Whole(1, 3650)] = Field(
        default=365, alias="noncurrentVersionExpiryDays", description="delete old versions after"
    )
    access_log_expiry_days: Annotated[int, Whole(1, 3650)] = Field(
        default=400, description="keep S3 access logs for"
    )


class Objectives(Model):
    rto_seconds: Annotated[int, Whole(60, MAX_RTO_SECONDS)] = Field(
        description="recovery time objective"
    )
    rpo_seconds: Annotated[int, Whole(1, MAX_RPO_SECONDS)] = Field(
        description="recovery point objective"
    )
