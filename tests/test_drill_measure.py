"""The real drill's figures from a recorded marker log follow drill/simulation/ledger.py:
RTO from the fault to dr's first acknowledged write, lost = acknowledged by the primary but
absent from dr at the end, RPO from the oldest lost write to the fault, split brain =
acknowledged by a region that was not the designated writer then."""

from __future__ import annotations

from typing import Any

from drill.measure import measure_stores
from handlers.markers import MEASURED, NOT_MEASURED_NO_DATA_API

PRIMARY, DR = "us-east-1", "us-west-2"
FAULT = 110.0
ALL = {"database": MEASURED, "table": MEASURED, "bucket": MEASURED}


def log(region: str, acks: dict[int, tuple[float, dict[str, float | None]]], status=ALL) -> Any:
    """seq -> (attempted at, store -> acknowledged at or None for an error)."""
    return {
        "region": region,
        "storeStatus": status,
        "markers": [
            {
                "seq": seq,
                "attemptedAt": at,
                "stores": {
                    store: {"ackAt": ack} if ack is not None else {"error": "Timeout"}
                    for store, ack in stores.items()
                },
            }
            for seq, (at, stores) in acks.items()
        ],
    }


def every(at: float, stores: tuple[str, ...] = ("database", "table", "bucket")) -> Any:
    return (at, dict.fromkeys(stores, at + 0.05))


PRIMARY_LOG = log(PRIMARY, {seq: every(100.0 + seq) for seq in range(10)})
# dr's database answers nothing until promotion, then acknowledges from 125.3 on.
DR_LOG = log(
    DR,
    {
        seq: (
            110.0 + seq,
            {
                "database": None if 110.0 + seq < 125 else 110.3 + seq,
                "table": 110.05 + seq,
                "bucket": 110.05 + seq,
            },
        )
        for seq in range(20)
    },
)


def held(primary: list[int], dr: range = range(20)) -> dict[str, list[int]]:
    return {PRIMARY: primary, DR: list(dr)}


def test_rto_lost_and_rpo_follow_the_ledger() -> None:
    inventory = {
        "held": {
            # The last two primary writes (seq 8, 9 at 108.05 and 109.05) never replicated.
            "database": held(list(range(8)), range(15, 20)),
            "table": held(list(range(10))),
            "bucket": held(list(range(9))),
        }
    }
    stores = measure_stores(PRIMARY_LOG, [DR_LOG], inventory, FAULT, {})
    database = stores["database"]
    assert database["status"] == MEASURED
    assert database["rto_seconds"] == 15.3  # 125.3 (seq 15 acknowledged) - 110
    assert database["lost_writes"] == 2
    assert database["rpo_seconds"] == 2.0  # 110 - 108.05, rounded as the ledger rounds
    assert database["primary_acknowledged"] == 10
    assert database["newest_primary_marker_in_dr"] == 7
    assert database["split_brain_writes"] == 0
    assert stores["table"]["lost_writes"] == 0 and stores["table"]["rpo_seconds"] == 0.0
    assert stores["table"]["rto_seconds"] == 0.0  # the replica takes writes at once (0.05 s)
    assert (
        stores["bucket"]["lost_writes"] == 1 and stores["bucket"]["rpo_seconds"] == 1.0
    )  # 110 - 109.05


def test_a_primary_write_acknowledged_after_the_fault_is_split_brain() -> None:
    late = log(PRIMARY, {**{s: every(100.0 + s) for s in range(10)}, 10: every(111.0)})
    inventory = {"held": dict.fromkeys(("database", "table", "bucket"), held(list(range(11))))}
    stores = measure_stores(late, [DR_LOG], inventory, FAULT, {})
    assert stores["database"]["split_brain_writes"] == 1


def test_dr_that_never_acknowledges_has_no_rto() -> None:
    silent = log(DR, {seq: (110.0 + seq, {"database": None}) for seq in range(3)})
    inventory = {"held": dict.fromkeys(("database", "table", "bucket"), held(list(range(10))))}
    stores = measure_stores(PRIMARY_LOG, [silent], inventory, FAULT, {})
    assert stores["database"]["rto_seconds"] is None
    assert stores["database"]["lost_writes"] == 0


def test_a_store_not_measured_or_not_emulated_says_so_and_has_no_figures() -> None:
    tier = {**ALL, "database": NOT_MEASURED_NO_DATA_API}
    primary = log(PRIMARY, {s: every(100.0 + s, ("table", "bucket")) for s in range(3)}, tier)
    dr = log(DR, {s: every(110.0 + s, ("table", "bucket")) for s in range(3)}, tier)
    stores = measure_stores(
        primary, [dr], {"held": {}}, FAULT, {"table": "moto does not replicate"}
    )
    assert stores["database"] == {"status": NOT_MEASURED_NO_DATA_API}
    assert stores["table"] == {"status": "not emulated: moto does not replicate"}
    assert stores["bucket"] == {"status": "failed: dr's stores could not be read back"}
