"""The signed-in clinic as the screens use it: every call leaves the event loop.

The store's writer thread owns the database; `Clinic` calls it and waits. Screens must never wait
on the event loop, so each call here runs the waiting in a worker thread (`asyncio.to_thread`)
and the screen awaits it. A test drives the whole app with database calls from the loop
forbidden.
"""

from __future__ import annotations

import asyncio
import importlib
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import TYPE_CHECKING, Any, Callable, TypeVar

from fieldkit.records import queries
from fieldkit.records.duplicates import Match, likely_duplicates
from fieldkit.records.models import NAME_PARTS, Patient, full_name
from fieldkit.records.roles import require
from fieldkit.records.search import SUMMARY, PatientSummary, recent
from fieldkit.records.search import search as find_patients
from fieldkit.records.services import Clinic, RecordedEncounter, Registration, validated
from fieldkit.store import drafts, session
from fieldkit.store.home import Home
from fieldkit.store.keystore import Keystore, User
from fieldkit.store.session import create_clinic, unlock
from fieldkit.sync import DEFAULT_PORT, hub_vector, membership
from fieldkit.sync.identity import new_device_key

if TYPE_CHECKING:
    from fieldkit.sync.engine import Engine

T = TypeVar("T")
PAGE = 20


async def off_loop(job: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    return await asyncio.to_thread(job, *args, **kwargs)


@dataclass(frozen=True)
class Today:
    """What the home screen lists before anyone types."""

    due: list[dict[str, Any]] = field(default_factory=list)
    referrals: list[dict[str, Any]] = field(default_factory=list)
    recent: list[PatientSummary] = field(default_factory=list)
    names: dict[str, str] = field(default_factory=dict)  # patient id -> name, for the two task lists


class Desk:
    def __init__(self, home: Home, clinic: Clinic) -> None:
        self.home = home
        self.clinic = clinic

    @property
    def user(self) -> User:
        return self.clinic.user

    @classmethod
    async def open(cls, home: Home, name: str, passphrase: str) -> "Desk":
        """Unlock (Argon2id takes most of a second) without freezing the screen."""
        store, user = await off_loop(unlock, home, name, passphrase)
        return cls(home, Clinic(store, user))

    @classmethod
    async def create(cls, home: Home, supervisor: str, passphrase: str) -> "Desk":
        """A new clinic on this laptop, signed in as its first supervisor."""
        key, device = new_device_key()
        store, user = await off_loop(create_clinic, home, supervisor=supervisor, passphrase=passphrase,
                                     device_id=device, device_key=key)
        return cls(home, Clinic(store, user))

    async def check_passphrase(self, passphrase: str) -> None:
        """Raise WrongPassphrase unless it is the signed-in user's: unlocking after a lock."""
        await off_loop(Keystore(self.home.keystore).unlock, self.user.name, passphrase)

    async def close(self) -> None:
        await off_loop(self.clinic.store.close)

    async def start_sync(self, on_change: Callable[[], None], *, interfaces: list[str] | None = None) -> Engine | None:
        """The sync engine on this laptop's network, running; None if the laptop is in no network."""
        store = self.clinic.store
        if not await off_loop(membership.member, store):
            return None
        # Only for network members, and off the loop: zeroconf and aiohttp take half a second to import.
        Engine = (await off_loop(importlib.import_module, "fieldkit.sync.engine")).Engine
        member = await off_loop(membership.load, store)
        engine = Engine(store, member, port=DEFAULT_PORT, interfaces=interfaces, on_change=on_change)
        try:
            await engine.start()
        except OSError:  # `fieldkit sync serve` holds the usual port: peers find us by mDNS anyway
            engine = Engine(store, member, port=0, interfaces=interfaces, on_change=on_change)
            await engine.start()
        return engine

    async def search(self, query: str, page: int = 0) -> list[PatientSummary]:
        return await off_loop(self.clinic.search, query, limit=PAGE, offset=page * PAGE)

    async def today(self, on: date | None = None) -> Today:
        until = (on or date.today()).isoformat()

        def job(conn) -> Today:
            due = queries.due_followups(conn, until, limit=PAGE)
            referrals = queries.pending_referrals(conn, limit=PAGE)
            ids = sorted({task["patient_id"] for task in due + referrals})
            names = {pid: full_name(dict(zip(NAME_PARTS, parts))) for pid, *parts in conn.execute(
                f"SELECT id, {', '.join(NAME_PARTS)} FROM patients WHERE id IN ({','.join('?' * len(ids))})",
                ids)} if ids else {}
            return Today(due, referrals, recent(conn, limit=PAGE), names)
        return await off_loop(self.clinic.store.read, job)

    async def patient(self, patient_id: str) -> dict[str, Any]:
        return await off_loop(self.clinic.patient, patient_id)

    async def register(self, data: dict[str, Any], reason: str = "") -> Registration:
        return await off_loop(self.clinic.register, data, reason=reason)

    async def duplicates_of(self, data: dict[str, Any]) -> list[Match]:
        return await off_loop(self.clinic.duplicates_of, validated(Patient, data))

    async def record_encounter(self, data: dict[str, Any]) -> RecordedEncounter:
        return await off_loop(self.clinic.record_encounter, data)

    async def conflicts(self) -> list[dict[str, Any]]:
        """Open conflicts, safety fields first, each with the patient's name."""
        def job(conn) -> list[dict[str, Any]]:
            found = queries.conflicts(conn)
            staff = dict(conn.execute("SELECT id, name FROM users"))
            for conflict in found:
                conflict["patient_name"] = full_name(queries.patient_fields(conn, conflict["patient_id"]) or {})
                for candidate in conflict["candidates"]:
                    candidate["author"] = staff.get(candidate["author"], candidate["author"])
            return sorted(found, key=lambda c: (not c["needs_review"], c["patient_name"], c["field"]))
        return await off_loop(self.clinic.store.read, job)

    async def resolve_conflict(self, conflict_id: str, value: Any, reason: str) -> None:
        await off_loop(self.clinic.resolve_conflict, conflict_id, value, reason)

    def _draft_key(self, patient_id: str) -> str:
        return f"encounter:{self.user.id}:{patient_id}"

    async def keep_draft(self, patient_id: str, form: dict[str, Any]) -> None:
        key = self._draft_key(patient_id)
        await off_loop(self.clinic.store.read, lambda conn: drafts.keep(conn, key, form))

    async def draft(self, patient_id: str) -> dict[str, Any] | None:
        key = self._draft_key(patient_id)
        return await off_loop(self.clinic.store.read, lambda conn: drafts.load(conn, key))

    async def drop_draft(self, patient_id: str) -> None:
        key = self._draft_key(patient_id)
        await off_loop(self.clinic.store.read, lambda conn: drafts.drop(conn, key))

    async def hub_standing(self) -> tuple[int, datetime | None]:
        """Entries this laptop holds that no hub has acknowledged (no hub yet: all of them), and
        when a round with the hub last finished."""
        store = self.clinic.store
        return await off_loop(lambda: (hub_vector.pending(store), hub_vector.last_success(store)))

    # -- the supervisor's screens ----------------------------------------------------------------

    async def day_summary(self, on: date) -> dict[str, Any]:
        require(self.user.role, "see the day summary")
        return await off_loop(self.clinic.store.read, lambda conn: queries.day_summary(conn, on.isoformat()))

    async def duplicate_pairs(self, query: str = "") -> list[dict[str, Any]]:
        """Pairs that may be one person: those flagged at registration, or with a query, the likely
        duplicates of the first patients it finds. Each is {first, second: PatientSummary, and
        why: the matcher's reasons (words to translate) or, flagged, the reason typed then}."""
        require(self.user.role, "merge patients")

        def job(conn) -> list[dict[str, Any]]:
            if query.strip():
                found = []
                for patient in find_patients(conn, query, limit=5):
                    fields = validated(Patient, queries.patient_fields(conn, patient.id))
                    found += [(patient.id, match.patient.id, {"reasons": match.reasons})
                              for match in likely_duplicates(conn, fields, exclude=patient.id)]
            else:
                found = [(pair["first"], pair["second"], {"registered_anyway": pair["reason"]})
                         for pair in queries.flagged_duplicates(conn, limit=PAGE)]
            unique: dict[frozenset, tuple[str, str, dict]] = {}
            for a, b, why in found:  # two found patients may each list the other
                unique.setdefault(frozenset((a, b)), (a, b, why))
            pairs = list(unique.values())[:PAGE]
            ids = sorted({pid for a, b, _why in pairs for pid in (a, b)})
            people = {row[0]: PatientSummary.from_row(row) for row in conn.execute(
                f"SELECT {SUMMARY} FROM patients WHERE id IN ({','.join('?' * len(ids))})", ids)}
            return [{"first": people[a], "second": people[b], "why": why} for a, b, why in pairs]
        return await off_loop(self.clinic.store.read, job)

    async def merge(self, duplicate_id: str, survivor_id: str) -> None:
        await off_loop(self.clinic.merge, duplicate_id, survivor_id)

    async def unmerge(self, duplicate_id: str) -> None:
        await off_loop(self.clinic.unmerge, duplicate_id)

    async def users(self) -> list[User]:
        require(self.user.role, "manage users")
        return await off_loop(Keystore(self.home.keystore).users)

    async def add_user(self, name: str, role: str, language: str, passphrase: str, own_passphrase: str) -> User:
        """A new user on this laptop; the supervisor's own passphrase unwraps the key to seal for them."""
        require(self.user.role, "manage users")
        return await off_loop(session.add_user, self.home, self.clinic.store, by=self.user.name,
                              by_passphrase=own_passphrase, name=name.strip(), role=role, passphrase=passphrase,
                              language=language)

    async def change_role(self, name: str, role: str) -> User:
        require(self.user.role, "manage users")
        changed = await off_loop(session.change_role, self.home, self.clinic.store, by=self.user, name=name, role=role)
        if changed.id == self.user.id:
            self.clinic.user = changed  # a supervisor who stepped down stops acting as one at once
        return changed
