"""A patient's chart: demographics, allergies where nobody can miss them, encounters newest first,
open follow-ups and referrals, and conflicts waiting on this record. Opening it is audited.

A record that others were merged into shows what was recorded under them too, each item marked
with the record it came from ([1] its own, [2]... the merged ones, listed under the name).
Enter on an encounter opens it in full (amend, entered in error); on a follow-up it closes or
reschedules it; on a referral it opens the referral (its events, feedback, letter); on a lab result
it opens the result with its history (correct, entered in error); on a vaccination the card. F9
refers the patient; F4 edits the demographics; F6 records a lab result and F10 a vaccination; F7
lists the records merged into this one, where a supervisor undoes a merge. The palette (ctrl+p)
lists every action.
"""

from __future__ import annotations

from typing import Any

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.widgets import Footer, Static

from fieldkit.i18n import N_, _, day, digits, moment
from fieldkit.permissions import allowed
from fieldkit.records.names import full_name
from fieldkit.records.queries import every_allergy
from fieldkit.store.lifecycle import OPEN
from fieldkit.tui.base import ReadingScreen, background
from fieldkit.tui.commands import ScreenActions
from fieldkit.tui.messages import OpenChart, OpenEncounter
from fieldkit.tui.picker import Picker
from fieldkit.tui.status import StatusBar
from fieldkit.tui.words import value_text, word


def disputed(record: dict[str, Any], field: str, render) -> str | None:
    """The values two edits gave a safety field, side by side, while it waits for a supervisor."""
    values = record["disputed"].get(field)
    if values is None:
        return None
    return _("DISPUTED {values}").format(values=" | ".join(render(value) for value in values))


def _identifiers(identifiers: dict[str, str] | None) -> str:
    return ", ".join(f"{system} {value}" for system, value in (identifiers or {}).items())


def demographics(record: dict[str, Any]) -> str:
    born = disputed(record, "birth_date", lambda v: day(v) if v else _("unknown"))
    if born is None:
        born = day(record["birth_date"]) if record.get("birth_date") else _("unknown")
        if record.get("birth_date_estimated"):
            born += " " + _("(estimated)")
    sex = disputed(record, "sex", lambda v: word(v or "unknown")) or word(record.get("sex") or "unknown")
    ids = (disputed(record, "identifiers", lambda v: _identifiers(v) or "-")
           or _identifiers(record.get("identifiers")) or _("no identifier"))
    lines = [full_name(record),
             _("{sex} · born {born} · {locality}").format(
                 sex=sex, born=born, locality=record.get("locality") or _("no locality")),
             _("phone {phone} · {ids}").format(phone=record.get("phone") or "-", ids=ids)]
    if record.get("merged_into"):
        lines.append(_("MERGED into {id}: record new encounters there (F3 opens it)").format(
            id=record.get("merged_into_name") or record["merged_into"]))
    if record.get("voided"):
        lines.append(_("VOIDED record"))
    return "\n".join(lines)


def marks(record: dict[str, Any]) -> dict[str, str]:
    """A short mark for each record whose items the chart shows, when others were merged into
    this one: [1] for its own, [2] and on for the merged ones; none when it stands alone."""
    ids = [record["id"], *(other["id"] for other in record.get("merged", ()))]
    return {pid: f"[{digits(str(n))}]" for n, pid in enumerate(ids, 1)} if len(ids) > 1 else {}


def _marked(text: str, mark: str) -> str:
    return f"{mark} {text}" if mark else text


def merged_lines(record: dict[str, Any], mark: dict[str, str]) -> str:
    """What the marks stand for: this record, and each record merged into it, with what tells it apart."""
    if not mark:
        return ""
    lines = [_("{mark} this record; merged into it:").format(mark=mark[record["id"]])]
    for other in record["merged"]:
        born = day(other["birth_date"]) if other.get("birth_date") else "?"
        lines.append(_marked(_("{name} · born {born} · phone {phone} · {ids}").format(
            name=full_name(other), born=born, phone=other.get("phone") or "-",
            ids=_identifiers(other.get("identifiers")) or _("no identifier")), mark[other["id"]]))
    return "\n".join(lines)


def allergies(record: dict[str, Any]) -> str:
    """Every allergy recorded under this record or one merged into it, each marked with its record."""
    mark = marks(record)
    parts = []
    for part in every_allergy(record):
        if part["disputed"] is not None:
            listed = _("DISPUTED {values}").format(values=" | ".join(", ".join(v or []) or _("none")
                                                                     for v in part["disputed"]))
        else:
            listed = ", ".join(part["allergies"])
        parts.append(f"{listed} {mark[part['patient_id']]}".rstrip() if mark else listed)
    return _("ALLERGIES: {list}").format(list="; ".join(parts)) if parts else _("No known allergies recorded")


def encounter_line(encounter: dict[str, Any], mark: str = "") -> str:
    news2 = encounter.get("scores", {}).get("news2", {})
    diagnoses = "; ".join(d.get("text") or d.get("code") or "" for d in encounter.get("diagnoses", []))
    kind = word(encounter.get("kind", "visit"))
    total = digits(str(news2["total"])) if "total" in news2 else "-"
    line = f"{moment(encounter['at'][:16])}  {kind:<11} NEWS2 {total} {_(news2.get('band', ''))}  {diagnoses}"
    if encounter.get("entered_in_error"):
        line += "  " + _("[ENTERED IN ERROR]")
    notes = ["    " + _("amended: {note}").format(note=a.get("note") or "")
             for a in encounter.get("amendments", []) if a["kind"] == "amend"]
    return "\n".join([_marked(line.rstrip(), mark), *notes])


def open_tasks(record: dict[str, Any]) -> list[tuple[str, tuple[str, dict[str, Any]]]]:
    """(line, (entity, task)) for each open follow-up and each referral not yet arrived."""
    mark = marks(record)
    found = [(_marked(_("follow-up {due} {reason} ({status})").format(
                 due=day(f["due"]), reason=f["reason"] or "", status=word(f["status"])), mark.get(f["patient_id"], "")),
              ("followup", f)) for f in record["followups"] if f["status"] == "open"]
    found += [(_marked(_("referral to {facility}, {urgency} ({status})").format(
                  facility=r.get("to_name") or r["to_facility"], urgency=word(r["urgency"]), status=word(r["status"])),
                  mark.get(r["patient_id"], "")), ("referral", r))
              for r in record["referrals"] if r["status"] in OPEN]
    return found


def tasks(record: dict[str, Any]) -> str:
    return "\n".join(line for line, _task in open_tasks(record)) or _("No open follow-up or referral")


def conflicts(record: dict[str, Any]) -> str:
    mark = marks(record)
    return "\n".join(_marked(
        _("CONFLICT on {field}: ").format(field=word(c["field"])) + " / ".join(value_text(v["value"]) for v in c["candidates"])
        + (" " + _("(waits for a supervisor)") if c["needs_review"] else ""), mark.get(c["patient_id"], ""))
        for c in record["conflicts"])


# What can be done from the chart, for the footer's overflow: the command palette (ctrl+p).
ACTIONS = (
    (N_("Open the encounter or task under the cursor"), N_("Tab to the list, Up/Down, Enter"), "open"),
    (N_("New encounter"), "F5", "encounter"),
    (N_("Edit details"), N_("name, birth date, sex, phone, locality, allergies (F4)"), "edit"),
    (N_("Amend an encounter, or mark it entered in error"), N_("Enter on the encounter, then F3 or F4"), "open_encounter"),
    (N_("Close or reschedule a follow-up"), N_("Enter on the follow-up"), "open_task"),
    (N_("Open a referral"), N_("Enter on the referral: its events, feedback and letter"), "open_task"),
    (N_("Refer this patient"), N_("a referral, e-consultation or transfer (F9)"), "refer"),
    (N_("Enrol in a programme"), N_("home follow-up, a registry, a mission (F8)"), "enrol"),
    (N_("Open an enrolment"), N_("Enter on the programme: check-ins, pause, complete, cancel"), "open"),
    (N_("Merged records and unmerge"), N_("the records merged into this one; F3 there undoes a merge (F7)"), "merge"),
    (N_("Record a lab result"), N_("a test's value and unit, or its answer (F6)"), "lab_result"),
    (N_("Open a lab result"), N_("Enter on the result: its history; correct it, or entered in error"), "open_result"),
    (N_("Vaccinate"), N_("a dose given, not given or given elsewhere (F10)"), "vaccinate"),
    (N_("Vaccination card"), N_("Enter on the vaccinations: every dose, what is due, immunity"), "card"),
)


class ChartActions(ScreenActions):
    """The chart's actions in the command palette, each with the key that does it."""

    ACTIONS = ACTIONS



class ChartScreen(ReadingScreen):
    COMMANDS = {ChartActions}
    BINDINGS = [
        Binding("enter", "open", N_("Open"), id="open-item"),
        Binding("f5", "encounter", N_("New encounter"), id="new-encounter"),
        Binding("f4", "edit", N_("Edit"), id="edit-patient"),
        Binding("f7", "merge", N_("Merge"), id="merged-records"),
        Binding("f9", "refer", N_("Refer"), id="refer", show=False),  # the footer is full at 80 columns; ^p lists it
        Binding("f8", "enrol", N_("Enrol"), id="enrol-programme", show=False),  # said where the programmes are listed
        Binding("f6", "lab_result", N_("Lab result"), id="lab-result", show=False),  # ^p lists it
        Binding("f10", "vaccinate", N_("Vaccinate"), id="vaccinate", show=False),  # ^p lists it
        Binding("f3", "survivor", N_("Open the record it is merged into"), id="open-survivor"),
        Binding("escape", "app.pop_screen", N_("Back"), id="back"),
        Binding("f12", "app.lock", N_("Lock"), id="lock"),
    ]

    def __init__(self, patient_id: str) -> None:
        super().__init__()
        self.patient_id = patient_id
        self.record: dict[str, Any] | None = None

    def compose(self) -> ComposeResult:
        yield StatusBar()
        with VerticalScroll(id="chart"):
            yield Static(_("opening…"), id="demographics")
            yield Static(id="merged")
            yield Static(id="allergies")
            yield Static(id="conflicts", classes="warning")
            yield Static(_("Open tasks"), classes="title")
            yield Picker[tuple[str, dict[str, Any]]](id="tasks")
            yield Static(_("Programmes"), classes="title")
            enrolled = Picker[dict[str, Any]](id="enrolments")
            enrolled.can_focus = False  # until it lists an enrolment: Tab goes from the tasks to the encounters
            yield enrolled
            for section, title in (("results", _("Results")), ("vaccinations", _("Vaccinations"))):
                yield Static(title, classes="title")
                listed = Picker[dict[str, Any]](id=section)
                listed.can_focus = False  # until it lists something, as the programmes
                yield listed
            yield Static(_("Encounters"), classes="title")
            yield Picker[dict[str, Any]](id="encounters")
        yield Footer()

    @background(exclusive=True)
    async def load(self) -> None:
        record = self.record = await self.desk.patient(self.patient_id)
        mark = marks(record)
        self.query_one("#demographics", Static).update(demographics(record))
        self.query_one("#merged", Static).update(merged_lines(record, mark))
        self.query_one("#merged").display = bool(mark)
        allergy = self.query_one("#allergies", Static)
        allergy.update(allergies(record))
        allergy.set_class(bool(every_allergy(record)), "alert")
        self.query_one("#conflicts", Static).update(conflicts(record))
        task_list = self.query_one("#tasks", Picker)
        task_list.show(open_tasks(record), _("No open follow-up or referral"))
        encounter_list = self.query_one("#encounters", Picker)
        encounter_list.show([(encounter_line(e, mark.get(e.get("patient_id", ""), "")), e) for e in record["encounters"]],
                            _("No encounter yet"))
        if not isinstance(self.focused, Picker):
            (task_list if task_list.items else encounter_list).focus()
        self.refresh_bindings()
        self.load_enrolments(record)
        self.load_results()
        self.load_vaccinations()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        record = self.record
        if action == "merge":
            return record is not None and allowed(self.desk.user.role, "merge patients") and not record.get("merged_into")
        if action == "survivor":
            return record is not None and bool(record.get("merged_into"))
        if action in ("open", "edit", "open_encounter", "open_task", "open_result", "card"):
            return record is not None
        if action == "enrol":
            return record is not None and allowed(self.desk.user.role, "enrol in a programme") and not record.get("merged_into")
        if action == "refer":
            return record is not None and allowed(self.desk.user.role, "refer") and not record.get("merged_into")
        if action == "lab_result":
            return record is not None and allowed(self.desk.user.role, "record lab results") and not record.get("merged_into")
        if action == "vaccinate":
            return record is not None and allowed(self.desk.user.role, "record vaccinations") and not record.get("merged_into")
        return True

    def _picked(self) -> Any:
        focused = self.focused
        return (focused.id, focused.chosen) if isinstance(focused, Picker) and focused.chosen is not None else (None, None)

    def action_open(self) -> None:
        where, item = self._picked()
        if where == "encounters":
            self._open_encounter(item)
        elif where == "tasks":
            self._open_task(*item)
        elif where == "enrolments":
            self._open_enrolment(item)
        elif where == "results":
            self._open_result(item)
        elif where == "vaccinations":
            self.action_card()

    def action_open_encounter(self) -> None:
        encounters = self.query_one("#encounters", Picker)
        encounters.focus()
        if encounters.chosen is not None:
            self._open_encounter(encounters.chosen)

    def action_open_task(self) -> None:
        self.query_one("#tasks", Picker).focus()
        if not self.query_one("#tasks", Picker).items:
            self.notify(_("No open follow-up or referral"))

    def _open_encounter(self, encounter: dict[str, Any]) -> None:
        from fieldkit.tui.encounter_view import EncounterView

        if self.record is not None:
            self.app.push_screen(EncounterView(self.record, encounter["id"]))

    def _open_task(self, entity: str, task: dict[str, Any]) -> None:
        from fieldkit.tui.referral_view import ReferralScreen
        from fieldkit.tui.task import TaskScreen

        if entity == "referral":  # its events, its snapshot, its letter: what may be done is offered there
            self.app.push_screen(ReferralScreen(task["id"]))
            return
        if not allowed(self.desk.user.role, "update task"):
            self.notify(_("Only a clinician or a supervisor changes follow-ups and referrals."), severity="warning")
            return
        self.app.push_screen(TaskScreen(task))

    def action_encounter(self) -> None:
        if self.record is not None:
            self.post_message(OpenEncounter(self.patient_id, self.record))

    def action_edit(self) -> None:
        from fieldkit.tui.edit import EditScreen

        if self.record is not None:
            self.app.push_screen(EditScreen(self.record))

    def action_merge(self) -> None:
        from fieldkit.tui.merge import MergeScreen

        self.app.push_screen(MergeScreen(self.patient_id))

    def action_refer(self) -> None:
        from fieldkit.tui.refer import ReferScreen

        if self.record is not None:
            self.app.push_screen(ReferScreen(self.patient_id, self.record))

    def action_enrol(self) -> None:
        from fieldkit.tui.enrolment import EnrolForm

        if self.record is not None:
            self.app.push_screen(EnrolForm(self.patient_id, full_name(self.record)))

    @background(exclusive=True, group="enrolments")
    async def load_enrolments(self, record: dict[str, Any]) -> None:
        from fieldkit.tui.enrolment import enrolment_line

        ids = [record["id"], *(other["id"] for other in record.get("merged", ()))]
        found, programmes = await self.desk.enrolments_of(ids), await self.desk.programmes()
        mark = marks(record)
        enrolled = self.query_one("#enrolments", Picker)
        enrolled.show([(_marked(enrolment_line(e, programmes), mark.get(e["patient_id"], "")), e) for e in found],
                      _("Not in any programme (F8 enrols)"))
        enrolled.can_focus = bool(found)

    def _open_enrolment(self, enrolment: dict[str, Any]) -> None:
        from fieldkit.tui.enrolment import EnrolmentScreen

        self.app.push_screen(EnrolmentScreen(enrolment["id"]))

    def action_survivor(self) -> None:
        if self.record is not None and self.record.get("merged_into"):
            self.post_message(OpenChart(self.record["merged_into"]))

    # -- lab results and vaccinations -------------------------------------------------------------

    @background(exclusive=True, group="results")
    async def load_results(self) -> None:
        from fieldkit.tui.labs import result_line

        found = await self.desk.lab_results_of(self.patient_id)
        mark = marks(self.record) if self.record else {}
        results = self.query_one("#results", Picker)
        results.show([(result_line(r, mark.get(r["patient_id"], "")), r) for r in found],
                     _("No lab result yet (F6 records one)"))
        results.can_focus = bool(found)

    @background(exclusive=True, group="vaccinations")
    async def load_vaccinations(self) -> None:
        from fieldkit.tui.vaccinations import card_items

        vaccines = await self.desk.vaccines()
        card = await self.desk.vaccination_card(self.patient_id)
        listed = self.query_one("#vaccinations", Picker)
        listed.show(card_items(card, vaccines, full=False), _("No vaccination recorded (F10 records one)"))
        listed.can_focus = bool(listed.items)

    def action_open_result(self) -> None:
        results = self.query_one("#results", Picker)
        if results.chosen is None:
            self.notify(_("No lab result yet (F6 records one)"))
            return
        results.focus()
        self._open_result(results.chosen)

    def _open_result(self, result: dict[str, Any]) -> None:
        from fieldkit.tui.labs import ResultScreen

        self.app.push_screen(ResultScreen(result["id"], full_name(self.record) if self.record else ""))

    def action_lab_result(self) -> None:
        from fieldkit.tui.labs import LabResultForm

        if self.record is not None:
            self.app.push_screen(LabResultForm(self.patient_id, full_name(self.record)))

    def action_vaccinate(self) -> None:
        from fieldkit.tui.vaccinate import VaccinateForm

        if self.record is not None:
            self.app.push_screen(VaccinateForm(self.patient_id, full_name(self.record)))

    def action_card(self) -> None:
        from fieldkit.tui.vaccinations import CardScreen

        if self.record is not None:
            self.app.push_screen(CardScreen(self.patient_id))
