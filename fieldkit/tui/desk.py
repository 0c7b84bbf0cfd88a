"""The signed-in clinic as the screens use it: the records' use cases, awaited from the event loop.

Every call hands a job to the store (`aread` for a reader thread, `awrite` for the writer) and
awaits it, so the event loop never runs a query and a cancelled worker (a search overtaken by the
next key) cancels its job if it has not started. What a call does is decided in `records`; this
class only adapts it to the loop. Unlocking, key slots and the sync engine's start-up, which
block on other things than the store, run in a thread.
"""

from __future__ import annotations

import asyncio
import importlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from fieldkit.permissions import require
from fieldkit.records import queries, referral_services, services, site, worklists
from fieldkit.records.duplicates import Match, likely_duplicates
from fieldkit.records.models import Patient
from fieldkit.records.search import PatientSummary
from fieldkit.records.search import search as find_patients
from fieldkit.records.services import RecordedEncounter, Registration, validated
from fieldkit.records.worklists import PAGE, Today
from fieldkit.store import backup as backups
from fieldkit.store import drafts, session
from fieldkit.store.db import Committed, Store
from fieldkit.store.home import Home
from fieldkit.store.keystore import Keystore, User
from fieldkit.store.session import create_clinic, unlock
from fieldkit.sync import DEFAULT_PORT, hub_vector, membership
from fieldkit.sync.identity import new_device_key

if TYPE_CHECKING:
    from fieldkit.sync.engine import Engine

T = TypeVar("T")
__all__ = ["Desk", "Laptop", "Today", "off_loop"]


@dataclass(frozen=True)
class Held:
    """An entry held back since a revocation; `claimed` is the writer's own clock, which a
    revocation cannot trust, so it is shown as a claim."""

    seq: int
    op: str
    entity: str
    author: str
    claimed: str


@dataclass(frozen=True)
class Laptop:
    device: str
    this: bool
    cutoff: int | None  # revoked: its entries after this sequence number are held
    held: list[Held]
    refusal: str  # why its last session failed, such as a fork (security.md T11/T12); kept until one succeeds


async def off_loop(job: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """For what blocks on something other than the store: key derivation, the keystore."""
    return await asyncio.to_thread(job, *args, **kwargs)


class Desk:
    def __init__(self, home: Home, store: Store, user: User) -> None:
        self.home = home
        self.store = store
        self.user = user
        site.use(home.path)  # the clinic's own facilities and programmes

    @classmethod
    async def open(cls, home: Home, name: str, passphrase: str) -> "Desk":
        """Unlock (Argon2id takes most of a second) without freezing the screen."""
        store, user = await off_loop(unlock, home, name, passphrase)
        await off_loop(store.open_readers)
        return cls(home, store, user)

    @classmethod
    async def create(cls, home: Home, supervisor: str, passphrase: str) -> "Desk":
        """A new clinic on this laptop, signed in as its first supervisor."""
        key, device = new_device_key()
        store, user = await off_loop(create_clinic, home, supervisor=supervisor, passphrase=passphrase,
                                     device_id=device, device_key=key)
        await off_loop(store.open_readers)
        return cls(home, store, user)

    async def _write(self, use_case: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        user = self.user
        return await self.store.awrite(lambda tx: use_case(tx, user, *args, **kwargs))

    def subscribe(self, callback: Callable[[Committed], object]) -> Callable[[], None]:
        """Hear, on this event loop, of every commit to the clinic's journal, from any process."""
        return self.store.subscribe(callback, loop=asyncio.get_running_loop())

    async def check_passphrase(self, passphrase: str) -> bytes:
        """Raise WrongPassphrase unless it is the signed-in user's (unlocking after a lock, a backup);
        return the database key it unwraps."""
        keystore = Keystore(self.home.keystore)
        _user, key = await off_loop(keystore.unlock, self.user.name, passphrase)
        await off_loop(session.audit_refusals, keystore, self.store)
        return key

    async def close(self) -> None:
        await off_loop(self.store.close)

    async def backup(self, destination: Path, passphrase: str) -> backups.Made:
        """The clinic onto a stick: the passphrase, asked again, unwraps the key the copy is made with."""
        key = await self.check_passphrase(passphrase)
        return await off_loop(backups.backup, self.home, self.store, key, self.user, destination)

    async def start_sync(self, on_change: Callable[[], None], *, interfaces: list[str] | None = None) -> Engine | None:
        """The sync engine on this laptop's network, running; None if the laptop is in no network."""
        store = self.store
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

    # -- finding and opening ---------------------------------------------------------------------

    async def search(self, query: str, page: int = 0) -> list[PatientSummary]:
        return await self.store.aread(lambda conn: find_patients(conn, query, limit=PAGE, offset=page * PAGE))

    async def today(self, on: date | None = None, *, tasks: int = PAGE, due_from: int = 0,
                    referrals_from: int = 0) -> Today:
        day = on or date.today()
        return await self.store.aread(lambda conn: worklists.today(conn, day, tasks=tasks, due_from=due_from,
                                                                   referrals_from=referrals_from))

    async def patient(self, patient_id: str) -> dict[str, Any]:
        return await self._write(queries.open_patient, patient_id)

    async def duplicates_of(self, data: dict[str, Any]) -> list[Match]:
        patient = validated(Patient, data)
        return await self.store.aread(lambda conn: likely_duplicates(conn, patient))

    # -- saving ----------------------------------------------------------------------------------

    async def register(self, data: dict[str, Any], reason: str = "") -> Registration:
        return await self._write(services.register, data, reason=reason)

    async def record_encounter(self, data: dict[str, Any]) -> RecordedEncounter:
        return await self._write(services.record_encounter, data)

    def _draft_key(self, patient_id: str) -> str:
        return f"encounter:{self.user.id}:{patient_id}"

    async def keep_draft(self, patient_id: str, form: dict[str, Any]) -> None:
        key = self._draft_key(patient_id)
        await self.store.awrite(lambda tx: drafts.keep(tx, key, form))

    async def draft(self, patient_id: str) -> dict[str, Any] | None:
        key = self._draft_key(patient_id)
        return await self.store.aread(lambda conn: drafts.load(conn, key))

    async def drop_draft(self, patient_id: str) -> None:
        key = self._draft_key(patient_id)
        await self.store.awrite(lambda tx: drafts.drop(tx, key))

    async def hub_standing(self) -> tuple[int, datetime | None]:
        """Entries this laptop holds that no hub has acknowledged (no hub yet: all of them), and
        when a round with the hub last finished."""
        return await self.store.aread(lambda conn: (hub_vector.pending(conn), hub_vector.last_success(conn)))

    # -- the supervisor's screens ----------------------------------------------------------------

    async def conflicts(self) -> list[dict[str, Any]]:
        return await self.store.aread(worklists.conflict_inbox)

    async def resolve_conflict(self, conflict_id: str, value: Any, reason: str) -> None:
        await self._write(services.resolve_conflict, conflict_id, value, reason)

    async def day_summary(self, on: date) -> dict[str, Any]:
        user = self.user
        return await self.store.aread(lambda conn: worklists.day_summary(conn, user, on))

    async def duplicate_pairs(self, query: str = "") -> list[dict[str, Any]]:
        user = self.user
        return await self.store.aread(lambda conn: worklists.duplicate_pairs(conn, user, query))

    async def merge(self, duplicate_id: str, survivor_id: str) -> None:
        await self._write(services.merge, duplicate_id, survivor_id)

    async def unmerge(self, duplicate_id: str) -> None:
        await self._write(services.unmerge, duplicate_id)

    async def laptops(self) -> list[Laptop]:
        """Every laptop this one knows of in the network, this one first, with what it holds back."""
        require(self.user.role, "enrol laptops")

        def read() -> list[Laptop]:
            store = self.store
            cutoffs, held = store.cutoffs().devices, store.held()
            refusals = {peer["device"]: peer["error"] for peer in store.peers()}
            names = store.read(queries.staff_names)
            # Whoever wrote an entry this laptop holds, or presented a certificate to it
            devices = sorted(set(store.version_vector()) | set(store.certificates()) | set(cutoffs) | set(refusals),
                             key=lambda device: (device != store.device_id, device))
            return [Laptop(device, device == store.device_id, cutoffs.get(device),
                           [Held(e.seq, e.op, e.entity, names.get(e.author, e.author[:8]), queries.when(e.version))
                            for e in held if e.origin == device], refusals.get(device, ""))
                    for device in devices]
        return await off_loop(read)

    async def revoke_laptop(self, device: str, reason: str) -> int:
        """Revoke a laptop with the network key; returns its cut-off."""
        require(self.user.role, "enrol laptops")
        store, user = self.store, self.user
        entry = await off_loop(lambda: membership.revoke(store, membership.load(store), device, user=user.id,
                                                         reason=reason))
        return int(entry.payload["cutoff"])

    async def release_laptop(self, device: str, up_to: int, reason: str) -> None:
        require(self.user.role, "enrol laptops")
        store, user = self.store, self.user
        await off_loop(lambda: membership.release(store, membership.load(store), device, up_to, user=user.id,
                                                  reason=reason))

    async def revoke_user(self, user_id: str, reason: str) -> None:
        await off_loop(session.revoke_user, self.home, self.store, by=self.user, user_id=user_id, reason=reason)

    async def users(self) -> list[User]:
        session.require_manager(self.user)
        return await off_loop(Keystore(self.home.keystore).users)

    async def add_user(self, name: str, role: str, language: str, passphrase: str, own_passphrase: str) -> User:
        """A new user on this laptop; the supervisor's own passphrase unwraps the key to seal for them."""
        session.require_manager(self.user)
        return await off_loop(session.add_user, self.home, self.store, by=self.user.name,
                              by_passphrase=own_passphrase, name=name.strip(), role=role, passphrase=passphrase,
                              language=language)

    async def change_role(self, name: str, role: str) -> User:
        changed = await off_loop(session.change_role, self.home, self.store, by=self.user, name=name, role=role)
        if changed.id == self.user.id:
            self.user = changed  # a supervisor who stepped down stops acting as one at once
        return changed

    # -- referrals -------------------------------------------------------------------------------

    async def tracker(self, on: date | None = None) -> dict[str, list[dict[str, Any]]]:
        """The referring unit's lists (records/referral_lists.tracker); a feedback row and a
        disputed one also carry their referral's patient, number, destination and urgency."""
        from fieldkit.records import referral_lists

        day = on or date.today()

        def read(conn: Any) -> dict[str, list[dict[str, Any]]]:
            lists = referral_lists.tracker(conn, day)
            for key, id_of in (("feedback", "referral_id"), ("disputed", "patient_id")):
                for row in lists[key]:
                    found = referral_lists.detail(conn, row[id_of]) or {}
                    row |= {name: found.get(name) for name in ("patient_name", "number", "from_name", "to_name",
                                                                "to_service", "urgency", "status", "expected_by")}
                    row["referral_id"] = row[id_of]
                    said = [e for e in found.get("events", ()) if e["type"] == "feedback" and e["applied"]]
                    if key == "feedback" and said:  # the specialist's own words, not the follow-up's title
                        row["advice"] = said[-1].get("recommendations") or said[-1].get("findings") or row["advice"]
            return lists
        return await self.store.aread(read)

    async def to_us(self) -> tuple[str, list[dict[str, Any]]]:
        """This laptop's facility ('' until `fieldkit referral here CODE`) and the referrals to it."""
        from fieldkit.records import referral_lists
        from fieldkit.records.referrals import here

        def read(conn: Any) -> tuple[str, list[dict[str, Any]]]:
            facility = here(conn)
            return facility, referral_lists.to_us(conn, facility) if facility else []
        return await self.store.aread(read)

    async def referral(self, referral_id: str) -> dict[str, Any] | None:
        """One referral with its snapshot, events and conflicts; the opening is audited, as a chart's is."""
        from fieldkit.records import referral_lists

        user = self.user

        def opened(tx: Any) -> dict[str, Any] | None:
            found = referral_lists.detail(tx, referral_id)
            if found is not None:
                tx.audit(user.id, "view referral", referral_id)
            return found
        return await self.store.awrite(opened)

    async def refer(self, request: dict[str, Any]) -> str:
        return await self._write(referral_services.refer, request)

    async def resolve_referral(self, conflict_id: str, chosen_event: str, reason: str) -> None:
        await self._write(referral_services.resolve, conflict_id, chosen_event, reason)


    # -- letters ---------------------------------------------------------------------------------

    async def print_letter(self, referral_id: str, kind: str, path: Path) -> Path:
        """Write a referral or treatment letter where the user said, in her language; rendering
        (fonts, shaping, the QR) takes a fraction of a second, so it runs off the event loop."""
        from fieldkit.letters import compose

        return await asyncio.to_thread(compose.print_letter, self.store, self.user, referral_id, kind, path,
                                       data_dir=self.home.path, language=self.user.language)

    # -- programmes ------------------------------------------------------------------------------

    async def programmes(self) -> dict[str, Any]:
        """The programmes (records/enrolments.programmes: shipped and the site's), read off the loop."""
        from fieldkit.records import enrolments

        return await off_loop(enrolments.programmes)

    async def ruleset_of(self, programme_id: str) -> Any:
        """The alert rule set a programme's check-ins are read by; None for a programme without check-ins."""
        from fieldkit.records import enrolments
        from fieldkit.records.alerts import load_ruleset

        def read() -> Any:
            rule = enrolments.programme(programme_id).checkin
            return load_ruleset(rule.ruleset) if rule else None
        return await off_loop(read)

    async def worklist(self, on: date) -> list[Any]:
        from fieldkit.records import programme_lists

        return await self.store.aread(lambda conn: programme_lists.worklist(conn, on))

    async def escalations(self) -> list[dict[str, Any]]:
        from fieldkit.records import programme_lists

        return await self.store.aread(programme_lists.escalations)

    async def missed_twice(self, on: date) -> list[Any]:
        from fieldkit.records import programme_lists

        return await self.store.aread(lambda conn: programme_lists.missed_twice(conn, on))

    async def ready_to_close(self, on: date) -> list[Any]:
        from fieldkit.records import programme_lists

        return await self.store.aread(lambda conn: programme_lists.ready_to_close(conn, on))

    async def checkins_of(self, enrolment_id: str) -> list[dict[str, Any]]:
        from fieldkit.records import programme_lists

        return await self.store.aread(lambda conn: programme_lists.checkins_of(conn, enrolment_id))

    async def enrolments_of(self, patient_ids: list[str]) -> list[dict[str, Any]]:
        """A patient's enrolments (and those of records merged into it), the latest first."""
        marks = ",".join("?" * len(patient_ids))

        def read(conn: Any) -> list[dict[str, Any]]:
            cursor = conn.execute(f"SELECT id, patient_id, programme, status, enrolled_on, outcome FROM enrolments "
                                  f"WHERE patient_id IN ({marks}) AND voided IS NOT 1 ORDER BY enrolled_on DESC, id DESC",
                                  patient_ids)
            return [dict(zip([c[0] for c in cursor.description], row)) for row in cursor.fetchall()]
        return await self.store.aread(read)

    async def enrolment(self, enrolment_id: str) -> dict[str, Any]:
        """One enrolment with its patient's name, attributes and stays as values."""
        import json

        from fieldkit.errors import FieldkitError
        from fieldkit.i18n import _
        from fieldkit.records.names import NAME_FIELDS, full_name

        def read(conn: Any) -> dict[str, Any]:
            names = ", ".join(f"p.{name}" for name in NAME_FIELDS)
            cursor = conn.execute(f"SELECT e.*, {names} FROM enrolments e LEFT JOIN patients p ON p.id = e.patient_id "
                                  "WHERE e.id = ?", (enrolment_id,))
            row = cursor.fetchone()
            if row is None:
                raise FieldkitError(_("no enrolment with id {id}").format(id=enrolment_id))
            found = dict(zip([c[0] for c in cursor.description], row))
            found["patient_name"] = full_name({name: found.pop(name, None) for name in NAME_FIELDS})
            found["attributes"] = json.loads(found["attributes"]) if found.get("attributes") else {}
            found["stays"] = json.loads(found["stays"]) if found.get("stays") else []
            return found
        return await self.store.aread(read)

    async def enrol(self, data: dict[str, Any]) -> str:
        from fieldkit.records import enrolments

        return await self._write(enrolments.enrol, data)

    async def move_enrolment(self, enrolment_id: str, status: str, *, outcome: str = "", on: str | None = None,
                             reason: str = "") -> None:
        """Pause (in hospital), resume, complete with an outcome, or cancel with a reason."""
        from fieldkit.records import enrolments

        await self._write(enrolments.move, enrolment_id, status, outcome=outcome, on=on or None, reason=reason)

    async def check_in(self, data: dict[str, Any]) -> tuple[str, str]:
        """Record a check-in; its id and the alert level it reached."""
        from fieldkit.records import enrolments

        return await self._write(enrolments.check_in, data)

    async def transfer(self, checkin_id: str, to_facility: str, reason: str) -> str:
        """A red check-in taken on: an urgent transfer referral linked to it; the enrolment paused."""
        from fieldkit.records import enrolments

        return await self._write(enrolments.transfer, checkin_id, to_facility, reason)

    async def no_transfer(self, checkin_id: str, note: str) -> None:
        from fieldkit.records import enrolments

        await self._write(enrolments.no_transfer, checkin_id, note)

    async def programme_counts(self) -> dict[str, dict[str, int]]:
        """Enrolments by programme and status (enrolments, not patients: a re-enrolled patient counts twice)."""
        def read(conn: Any) -> dict[str, dict[str, int]]:
            found: dict[str, dict[str, int]] = {}
            for programme, status, n in conn.execute(
                    "SELECT programme, status, count(*) FROM enrolments WHERE voided IS NOT 1 GROUP BY programme, status"):
                found.setdefault(programme, {})[status] = n
            return found
        return await self.store.aread(read)

    async def line_list(self, programme_id: str) -> list[dict[str, Any]]:
        from fieldkit.records import registry

        return await self.store.aread(lambda conn: registry.line_list(conn, programme_id))

    # -- acting on a chart -----------------------------------------------------------------------

    async def edit_patient(self, patient_id: str, changes: dict[str, Any]) -> list[str]:
        return await self._write(services.edit, patient_id, changes)

    async def amend(self, encounter_id: str, note: str) -> None:
        await self._write(services.amend, encounter_id, note)

    async def entered_in_error(self, encounter_id: str, reason: str) -> None:
        await self._write(services.entered_in_error, encounter_id, reason)

    async def set_followup_status(self, followup_id: str, status: str) -> None:
        await self._write(services.set_followup_status, followup_id, status)

    async def referral_event(self, referral_id: str, details: dict[str, Any]) -> str | None:
        return await self._write(referral_services.record_event, referral_id, details)

    async def reschedule(self, followup_id: str, due: str) -> None:
        await self._write(services.reschedule, followup_id, due)

    # -- lab results -----------------------------------------------------------------------------

    async def lab_tests(self) -> dict[str, Any]:
        """The test table (records/lab_codes: shipped and the site's), read off the loop."""
        from fieldkit.records import lab_codes

        return await off_loop(lab_codes.tests)

    async def lab_results_of(self, patient_id: str) -> list[dict[str, Any]]:
        """A patient's results (and those of records merged into theirs), newest sample first."""
        from fieldkit.records import labs

        return await self.store.aread(lambda conn: labs.results_of(conn, patient_id))

    async def lab_result(self, result_id: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        """One result as it stands, and its history (every value it had, who, when)."""
        from fieldkit.records import labs

        return await self.store.aread(lambda conn: (labs.result(conn, result_id), labs.history(conn, result_id)))

    async def record_lab_result(self, data: dict[str, Any]) -> dict[str, Any]:
        """Record one result; returns it as stored, with the interpretation it was given."""
        from fieldkit.records import labs

        user = self.user
        return await self.store.awrite(lambda tx: labs.result(tx, labs.record(tx, user, data)))

    async def correct_lab_result(self, result_id: str, value: Any, unit: str | None, reason: str) -> None:
        from fieldkit.records import labs

        await self._write(labs.correct, result_id, value, unit=unit, reason=reason)

    async def lab_result_in_error(self, result_id: str, reason: str) -> None:
        from fieldkit.records import labs

        await self._write(labs.entered_in_error, result_id, reason)

    # -- a lab's file ----------------------------------------------------------------------------

    async def lab_templates(self) -> dict[str, Any]:
        from fieldkit.records import lab_templates

        return await off_loop(lab_templates.templates)

    async def screening_rounds(self) -> list[dict[str, Any]]:
        from fieldkit.records import screening

        return await self.store.aread(screening.rounds)

    async def check_import(self, path: str, template_id: str, round_id: str | None,
                           progress: Callable[[int, int], None]) -> Any:
        """The dry run of a lab's file (lab_import.check) on a reader: its ImportPlan."""
        from fieldkit.records import lab_import

        return await self.store.aread(lambda conn: lab_import.check(path, template_id, conn, round_id=round_id,
                                                                    progress=progress))

    async def commit_import(self, plan: Any, progress: Callable[[int, int], None]) -> Any:
        """Write what the dry run planned, in one transaction: its ImportResult."""
        from fieldkit.records import lab_import

        return await self._write(lab_import.commit, plan, progress=progress)

    async def write_import_errors(self, plan: Any, typed: str) -> Path:
        """The dry run's problems as CSV where the user said: never into the clinic's data folder,
        never over an existing file. Returns the file's full path."""
        from fieldkit.errors import FieldkitError
        from fieldkit.i18n import _
        from fieldkit.records import lab_import
        from fieldkit.tui.programmes import write_csv

        if self.home.holds(Path(typed)):
            raise FieldkitError(_("lists are written where you choose, never into the clinic's data folder"))
        return await off_loop(write_csv, typed, lab_import.errors_csv(plan))

    async def quarantined(self) -> list[dict[str, Any]]:
        """The rows of lab files waiting for a person to say whose they are, each with its file's name."""
        from fieldkit.records import lab_quarantine

        def read(conn: Any) -> list[dict[str, Any]]:
            files = dict(conn.execute("SELECT id, file_name FROM lab_imports"))
            return [{**row, "file_name": files.get(row["import_id"]) or ""} for row in lab_quarantine.quarantined(conn)]
        return await self.store.aread(read)

    async def match_row(self, row_id: str, patient_id: str) -> list[str]:
        from fieldkit.records import lab_quarantine

        return await self._write(lab_quarantine.match_row, row_id, patient_id)

    async def discard_row(self, row_id: str, reason: str) -> None:
        from fieldkit.records import lab_quarantine

        await self._write(lab_quarantine.discard_row, row_id, reason)

    async def rounds_overview(self, on: date | None = None) -> list[dict[str, Any]]:
        """Each screening round, the latest first, with its summary (records/screening.round_summary)."""
        from fieldkit.records import screening

        return await self.store.aread(lambda conn: [screening.round_summary(conn, planned["id"], today=on)
                                                    for planned in screening.rounds(conn)])

    # -- vaccinations ----------------------------------------------------------------------------

    async def vaccines(self) -> dict[str, Any]:
        from fieldkit.records.vaccines import vaccines

        return await off_loop(vaccines)

    async def schedules(self) -> dict[str, Any]:
        from fieldkit.records.schedules import schedules

        return await off_loop(schedules)

    async def vaccine_lots(self, vaccine: str) -> list[dict[str, Any]]:
        """A vaccine's lots, expired ones included and marked."""
        from fieldkit.records import immunizations

        return await self.store.aread(lambda conn: immunizations.lots(conn, vaccine))

    async def vaccination_card(self, patient_id: str, on: date | None = None) -> dict[str, Any]:
        """Every dose record of a patient and, per schedule, each dose's state and the immunity shown."""
        from fieldkit.records import vaccine_lists

        today = on or date.today()
        return await self.store.aread(lambda conn: vaccine_lists.card(conn, patient_id, today=today))

    async def vaccinate(self, mode: str, data: dict[str, Any]) -> Any:
        """A dose given here ("given"), not given ("not-given") or given elsewhere ("historical"):
        the records' Given (id, dose number, warnings, flags)."""
        from fieldkit.records import immunizations

        use_case = {immunizations.GIVEN: immunizations.give, immunizations.NOT_GIVEN: immunizations.not_given,
                    immunizations.HISTORICAL: immunizations.historical}[mode]
        return await self._write(use_case, data)

    async def dose_in_error(self, immunization_id: str, reason: str) -> None:
        from fieldkit.records import immunizations

        await self._write(immunizations.entered_in_error, immunization_id, reason)

    async def due_list(self, schedule_id: str, on: date | None = None) -> list[Any]:
        """Who is due or overdue a dose (or a test) of the schedule, most overdue first."""
        from fieldkit.records import vaccine_lists

        today = on or date.today()
        return await self.store.aread(lambda conn: vaccine_lists.due_list(conn, schedule_id, today=today))
