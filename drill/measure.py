"""RTO, lost writes and RPO from the marker writers' logs, by the simulation's definitions.

Each store gets a `drill.simulation.ledger.Ledger` built from what its writers recorded (a
marker is a client write; the region whose store acknowledged it is who acknowledged it), and
`ledger.measure` computes the figures, so the real drill and the simulation share one
definition of RTO, lost, RPO and split brain. The designated writer is the primary until the
fault and dr from then on. A store dr holds at the end is the "final writer" of the ledger.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from drill.simulation.ledger import Ledger, measure
from handlers.markers import MEASURED, STORES


def store_ledger(
    store: str, logs: Sequence[Mapping[str, Any]], primary: str, dr: str, fault_at: float
) -> tuple[Ledger, dict[tuple[str, int], int]]:
    """The store's ledger from every writer's log, in time order, and its write ids by marker."""
    attempts: list[tuple[float, str, int, str | None]] = []
    for log in logs:
        region = str(log["region"])
        for marker in log["markers"]:
            answer = marker["stores"].get(store, {})
            acknowledged = "ackAt" in answer
            at = float(answer["ackAt"] if acknowledged else marker["attemptedAt"])
            attempts.append((at, region, int(marker["seq"]), region if acknowledged else None))
    attempts.sort(key=lambda a: a[0])
    ledger = Ledger()
    ids: dict[tuple[str, int], int] = {}
    for at, region, seq, by in attempts:
        write = ledger.next_id()
        ledger.attempt(write, at, region, by)
        ids[(region, seq)] = write
    start = attempts[0][0] if attempts else fault_at
    ledger.designate(min(start, fault_at), primary)
    ledger.designate(fault_at, dr)
    return ledger, ids


def measure_store(
    store: str,
    *,
    logs: Sequence[Mapping[str, Any]],
    held: Mapping[str, list[int]],
    primary: str,
    dr: str,
    fault_at: float,
) -> dict[str, Any]:
    ledger, ids = store_ledger(store, logs, primary, dr, fault_at)
    final = {
        ids[(region, seq)] for region, seqs in held.items() for seq in seqs if (region, seq) in ids
    }
    figures = measure(ledger, final, fault_at, dr)
    primary_acks = [
        int(m["seq"])
        for log in logs
        if log["region"] == primary
        for m in log["markers"]
        if "ackAt" in m["stores"].get(store, {})
    ]
    in_dr = set(held.get(primary, []))
    figures["primary_acknowledged"] = len(primary_acks)
    figures["newest_primary_marker_in_dr"] = max(
        (seq for seq in primary_acks if seq in in_dr), default=None
    )
    return figures


def measure_stores(
    primary_log: Mapping[str, Any],
    dr_logs: Sequence[Mapping[str, Any]],
    inventory: Mapping[str, Any] | None,
    fault_at: float,
    not_emulated: Mapping[str, str],
) -> dict[str, dict[str, Any]]:
    """Per store: the ledger's figures, or why the store was not measured."""
    primary, dr = str(primary_log["region"]), str(dr_logs[0]["region"]) if dr_logs else ""
    logs = [primary_log, *dr_logs]
    results: dict[str, dict[str, Any]] = {}
    for store in STORES:
        statuses = {str(log.get("storeStatus", {}).get(store, MEASURED)) for log in logs}
        unmeasured = sorted(s for s in statuses if s != MEASURED)
        if unmeasured:
            results[store] = {"status": unmeasured[0]}
        elif store in not_emulated:
            results[store] = {"status": f"not emulated: {not_emulated[store]}"}
        elif inventory is None or store not in inventory.get("held", {}):
            results[store] = {"status": "failed: dr's stores could not be read back"}
        else:
            figures = measure_store(
                store,
                logs=logs,
                held=inventory["held"][store],
                primary=primary,
                dr=dr,
                fault_at=fault_at,
            )
            results[store] = {"status": MEASURED, **figures}
    return results
