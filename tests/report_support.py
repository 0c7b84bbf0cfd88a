"""The hub's reports in tests: laptops' entries stored by a real HubStorage, folded by a real replica.

Entries are put into the storage as a verified upload leaves them (`storage.ingest`, with signed
checkpoints), without the HTTP round trip, which tests/hub/test_reports.py exercises on its own.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hub_support import HUB_KEY

from fieldkit.hub.replica import Replica
from fieldkit.hub.reporting import COLUMNS
from fieldkit.hub.storage import HubStorage
from fieldkit.records import services
from fieldkit.records.models import Patient
from fieldkit.store.db import Store, Transaction
from fieldkit.store.keystore import User

DOCTOR = User("doc", "Dr Lan", "supervisor")


def upload(storage: HubStorage, *stores: Store) -> int:
    """Everything the laptops hold that the storage lacks, stored as an upload stores it."""
    stored = 0
    for store in stores:
        store.sign_checkpoints(lambda message: b"s" * 64)  # the storage keeps proof; the hub's routes check it
        batch = store.outgoing(storage.version_vector(), 10**9)
        stored += storage.ingest(batch.entries, batch.checkpoints, batch.certificates).applied
    return stored


def replica(path: Path) -> Replica:
    return Replica(path, HUB_KEY)


def registered(tx: Transaction, name: str, *, by: User = DOCTOR, **fields: Any) -> str:
    """A patient journalled without the duplicate check: thousands of fixture patients in seconds."""
    change = services.registration(Patient(given_name=name, **fields))
    tx.append([change], user=by.id)
    return change.entity_id


def tables(storage: HubStorage) -> dict[str, list[tuple]]:
    """Every reporting table's rows, in id order."""
    return {table: storage.query(f"SELECT {', '.join(columns)} FROM {table} ORDER BY id")
            for table, columns in COLUMNS.items()}


def cumulative(values):
    total = 0
    for value in values:
        total += value
        yield total
