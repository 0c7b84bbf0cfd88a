"""Recording an encounter: its kind, vitals with their units, scores updating as they are typed,
diagnoses, prescriptions, a referral and a follow-up; F2 saves.

Tab walks the form top to bottom in the order things are done: kind, the NEWS2 readings,
consciousness, oxygen, the other measurements, then diagnoses and prescriptions (a new row
appears as the last one is typed in), the referral, the follow-up and notes. The form scrolls;
NEWS2 and qSOFA stay in view below it, recomputed on every keystroke from the readings that are
valid so far, as number, word and breakdown.

Each reading is checked when its field is left: an impossible one is refused beside the field with
the value, the reason and the possible range (the typed value stays visible to correct); an
alarming one is flagged and kept. On F2 the whole encounter is checked first, each problem is put
beside its field, the first field with one is focused (the form scrolls to it) and one line under
the form says what is wrong, in the user's language. A high NEWS2 asks for the escalation before
it is saved (`escalate`). What is typed is kept as a draft in the encrypted database, so a crash
or a lock loses nothing.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Grid, Horizontal, VerticalScroll
from textual.widget import Widget
from textual.widgets import Checkbox, Footer, Input, Label, Select, Static

from fieldkit.errors import FieldkitError
from fieldkit.i18n import N_, _, day_entered, digits
from fieldkit.records.dates import parse_day
from fieldkit.records.models import (
    GLUCOSE,
    MEASURES,
    Encounter,
    Vitals,
    age_in_years,
    alarm,
    check_measure,
    diagnosis_from_text,
    full_name,
    prescription_from_text,
)
from fieldkit.records.problems import Problem, check
from fieldkit.records.scores import Score, news2, part_label, qsofa
from fieldkit.text import ascii_digits
from fieldkit.tui.base import ClinicScreen, background
from fieldkit.tui.escalate import NOTE, REFER, EscalateScreen, needs_escalation
from fieldkit.tui.rows import Rows
from fieldkit.tui.status import StatusBar
from fieldkit.tui.words import unit, word

# NEWS2's readings in the order they are taken, then consciousness; the other measurements after.
SCORED = ("temperature_c", "pulse", "resp_rate", "systolic_bp", "diastolic_bp", "spo2")
MEASURED = ("weight_kg", "height_cm", "muac_mm")
FIELDS = (*SCORED, *MEASURED, "glucose")
# Consciousness is one key in the tab order right after SpO2: a letter, or 1-5 where the keyboard
# layout types no Latin letters. A Select here cost six keys per encounter.
AVPU = (("A", N_("Alert")), ("C", N_("new Confusion")), ("V", N_("responds to Voice")),
        ("P", N_("responds to Pain")), ("U", N_("Unresponsive")))
KINDS = ("visit", "home", "teletriage", "screening", "vaccination")
URGENCIES = ("routine", "urgent", "emergency")
DIAGNOSIS_PARTS = (("code", N_("ICD-10"), 9), ("text", N_("diagnosis"), 0))
PRESCRIPTION_PARTS = (("drug", N_("drug"), 0), ("dose", N_("dose"), 10), ("route", N_("route"), 8),
                      ("frequency", N_("how often"), 11), ("duration_days", N_("days"), 6))
# Where a problem found on saving is shown: the model's path, by its first part, to a field's id.
REFERRAL_FIELDS = {"to_facility": "refer_to", "reason": "refer_reason", "urgency": "urgency"}

def avpu_code(typed: str) -> str | None:
    """The AVPU code for what was typed (A, C, V, P, U or 1-5), None if it is none of them."""
    typed = ascii_digits(typed.strip()).upper()
    codes = [code for code, _label in AVPU]
    if typed in codes:
        return typed
    return codes[int(typed) - 1] if typed in {"1", "2", "3", "4", "5"} else None


def breakdown(score: Score) -> str:
    """Number and word first (never colour alone), then what gave the points, then what is missing."""
    parts = ", ".join(f"{part_label(name)} {digits(str(points))}" for name, points in score.parts.items() if points)
    detail = parts or _("no parameter scores")
    if score.missing:
        detail += "; " + _("missing: {names}").format(names=", ".join(part_label(name) for name in score.missing))
    return f"{score.name} {digits(str(score.total))} {_(score.band)}: {_(score.response)}\n  {detail}"


def follow_up_note(typed: str, today: date | None = None) -> tuple[str, bool]:
    """What the follow-up field says once left: the day as read, a past day flagged (saved if
    meant), or why it is not a date. The flag is True when the typed text cannot be saved."""
    try:
        due = parse_day(typed)
    except ValueError as exc:
        return str(exc), True
    if due < (today or date.today()):
        return _("{day} is in the past: is that meant?").format(day=day_entered(due)), False
    return day_entered(due), False


class Tick(Checkbox):
    """A checkbox whose mark is a character, not only a colour: X when ticked, blank when not."""

    # Checkbox draws one constant character; this one follows the value.
    @property
    def BUTTON_INNER(self) -> str:  # type: ignore[override]
        return "X" if self.value else " "


class EncounterScreen(ClinicScreen):
    # Rows grow with what they hold, so a refusal or a long label wraps instead of being cut.
    DEFAULT_CSS = """
    #encounter-form { height: 1fr; }
    .readings { grid-size: 3; grid-columns: 25 9 1fr; grid-rows: auto; grid-gutter: 0 1; height: auto; }
    .readings Label { padding: 0 1; width: 1fr; }
    .readings .note { padding: 0; }
    .readings .wide { column-span: 2; }
    .plan { grid-columns: 25 16 1fr; }
    .readings Select { width: 26; }
    #glucose-unit-row { height: auto; }
    #glucose-unit-row Select { width: 14; }
    #oxygen { column-span: 3; height: 1; padding: 0 1; }
    .section { text-style: bold; padding: 0 1; margin: 1 0 0 0; }
    Rows { padding: 0 1; }
    Input.refused { background: $error 35%; text-style: bold; }
    #scores { height: auto; padding: 0 1; border-top: solid $secondary; }
    #encounter-error { height: auto; }
    """
    BINDINGS = [
        Binding("f2", "save", N_("Save"), id="save", priority=True),
        Binding("ctrl+s", "save", N_("Save"), id="save-ctrl", show=False, priority=True),
        Binding("escape", "app.pop_screen", N_("Back (draft kept)"), id="back"),
        Binding("f12", "app.lock", N_("Lock"), id="lock"),
    ]

    def __init__(self, patient_id: str, record: dict[str, Any]) -> None:
        super().__init__()
        self.patient_id = patient_id
        birth = record.get("birth_date")
        self.age = age_in_years(date.fromisoformat(birth)) if birth else None
        self.title_line = full_name(record)
        if record.get("allergies"):
            self.title_line += "  " + _("ALLERGIES: {list}").format(list=", ".join(record["allergies"]))
        self.escalation_note = ""  # why a high NEWS2 was saved without an urgent referral, once asked
        # Until the draft is back, the form's own start-up events must not overwrite it with blanks.
        self.restored = False

    def compose(self) -> ComposeResult:
        yield StatusBar()
        with VerticalScroll(id="encounter-form"):
            yield Static(_("New encounter: {patient}").format(patient=self.title_line), classes="title")
            with Grid(classes="readings"):
                yield Label(_("Encounter kind"))
                yield Select([(word(kind), kind) for kind in KINDS], value="visit", allow_blank=False, id="kind",
                             compact=True, classes="wide")
                for name in SCORED:
                    yield from self._reading(name)
                yield Label(_("Consciousness (AVPU)"))
                yield Input(id="avpu", classes="vital", compact=True, max_length=1, placeholder="ACVPU 1-5")
                yield Label("", id="avpu-note", classes="note")
                with Horizontal(id="oxygen"):
                    yield Tick(_("on oxygen"), id="on_oxygen", compact=True)
                    yield Tick(_("SpO2 scale 2"), id="hypercapnic", compact=True)
                for name in MEASURED:
                    yield from self._reading(name)
                yield Label(_("Blood glucose"))
                yield Input(id="glucose", classes="vital", compact=True)
                with Horizontal(id="glucose-unit-row"):
                    yield Select([(unit, unit) for unit in GLUCOSE], value="mg/dL", allow_blank=False,
                                 id="glucose_unit", compact=True)
                    yield Label("", id="glucose-note", classes="note")
            yield Static(_("Diagnoses: ICD-10 code and text, one per line"), classes="section")
            yield Rows("dx", DIAGNOSIS_PARTS, Encounter.model_fields["diagnoses"].metadata[0].max_length, id="diagnoses")
            yield Static(_("Prescriptions: drug, dose, route, how often, days"), classes="section")
            yield Rows("rx", PRESCRIPTION_PARTS, Encounter.model_fields["prescriptions"].metadata[0].max_length,
                       id="prescriptions")
            yield Static(_("Referral and follow-up"), classes="section")
            with Grid(classes="readings plan"):
                yield Label(_("Refer to (facility)"))
                yield Input(id="refer_to", compact=True, classes="wide")
                yield Label(_("Reason for referral"))
                yield Input(id="refer_reason", compact=True, classes="wide")
                yield Label(_("Urgency"))
                yield Select([(word(urgency), urgency) for urgency in URGENCIES], value="routine", allow_blank=False,
                             id="urgency", compact=True, classes="wide")
                yield Label(_("Follow-up due"))
                yield Input(id="follow_up", compact=True, placeholder=_("day/month/year"))
                yield Label("", id="follow_up-note", classes="note")
                yield Label(_("Notes"))
                yield Input(id="notes", compact=True, classes="wide")
        # Below the form, never scrolled away: what stops the save, and the scores.
        yield Label("", id="encounter-error", classes="error")
        yield Static(id="scores")
        yield Footer()

    def _reading(self, name: str) -> ComposeResult:
        measure = MEASURES[name]
        yield Label(f"{_(measure.label)} ({unit(measure.unit)})")
        yield Input(id=name, classes="vital", compact=True)
        yield Label("", id=f"{name}-note", classes="note")

    def on_mount(self) -> None:
        self.query_one("#temperature_c").focus()
        self.restore_draft()

    # -- readings -------------------------------------------------------------------------------

    def readings(self) -> dict[str, Any]:
        """The valid readings typed so far; invalid ones are left out until corrected."""
        vitals: dict[str, Any] = {}
        for name in SCORED:
            text = self.query_one(f"#{name}", Input).value.strip()
            if text:
                try:
                    vitals[name] = check_measure(MEASURES[name], text)
                except ValueError:
                    pass
        avpu = avpu_code(self.query_one("#avpu", Input).value)
        if avpu:
            vitals["avpu"] = avpu
        vitals["on_oxygen"] = self.query_one("#on_oxygen", Checkbox).value
        return vitals

    @on(Input.Changed, ".vital")
    @on(Checkbox.Changed)
    def rescore(self) -> None:
        vitals = Vitals.model_validate(self.readings())
        self.query_one("#scores", Static).update(f"{breakdown(self.news2(vitals))}\n{breakdown(qsofa(vitals))}")
        self.keep_draft()

    def news2(self, vitals: Vitals) -> Score:
        return news2(vitals, hypercapnic=self.query_one("#hypercapnic", Checkbox).value, age_years=self.age)

    @on(Input.Changed)
    @on(Select.Changed)
    def typed(self, event: Input.Changed | Select.Changed) -> None:
        if not event.control.has_class("vital"):
            self.keep_draft()

    @on(Input.Blurred, ".vital")
    def check(self, event: Input.Blurred) -> None:
        name, text = event.input.id or "", event.value.strip()
        event.input.remove_class("refused")
        if not text:
            self._note(name, "")
            return
        if name == "avpu":
            code = avpu_code(text)
            labels = dict(AVPU)
            self._note(name, _(labels[code]) if code else _("refused: type A, C, V, P or U (or 1 to 5)"), code is None)
            return
        measure = GLUCOSE[str(self.query_one("#glucose_unit", Select).value)] if name == "glucose" else MEASURES[name]
        try:
            value = check_measure(measure, text)
        except ValueError as exc:
            self._note(name, str(exc), refused=True)
            return
        self._note(name, alarm(measure, value) or "")

    @on(Input.Blurred, "#follow_up")
    def check_follow_up(self, event: Input.Blurred) -> None:
        text = event.value.strip()
        note, refused = follow_up_note(text) if text else ("", False)
        self._note("follow_up", note, refused)

    def _note(self, name: str, text: str, refused: bool = False) -> None:
        """The words beside a field; a refused field is marked, its typed value left to correct."""
        self.query_one(f"#{name}-note", Label).update(text)
        self.query_one(f"#{name}", Input).set_class(refused, "refused")

    # -- the draft ------------------------------------------------------------------------------

    def form(self) -> dict[str, Any]:
        values: dict[str, Any] = {str(widget.id): widget.value for widget in self.query(Input)}
        values.update({str(box.id): box.value for box in self.query(Checkbox)})
        values.update({str(choice.id): choice.value for choice in self.query(Select)})
        return values

    def keep_draft(self) -> None:
        if self.restored:
            self._keep_draft()

    @background(exclusive=True, group="draft")
    async def _keep_draft(self) -> None:
        await self.desk.keep_draft(self.patient_id, self.form())

    @background(group="restore")
    async def restore_draft(self) -> None:
        try:
            draft = upgraded(await self.desk.draft(self.patient_id) or {})
            for prefix, rows_id in (("dx", "#diagnoses"), ("rx", "#prescriptions")):
                rows = [int(key.split("-")[1]) for key in draft if key.startswith(f"{prefix}-")]
                await self.query_one(rows_id, Rows).ensure(max(rows, default=0) + 1)
            for key, value in draft.items():
                found = self.query(f"#{key}")
                widget = found.first() if found else None
                if value not in (None, "") and isinstance(widget, (Input, Checkbox, Select)):
                    widget.value = value
        finally:
            self.restored = True
        self.rescore()

    # -- saving ---------------------------------------------------------------------------------

    def encounter(self) -> tuple[dict[str, Any], dict[tuple[str | int, ...], str]]:
        """The encounter as typed, and the id of the field behind each path of it."""
        form = self.form()
        vitals: dict[str, Any] = {name: form[name] for name in FIELDS if form[name].strip()}
        vitals["on_oxygen"] = form["on_oxygen"]
        if form["avpu"].strip():
            vitals["avpu"] = avpu_code(form["avpu"]) or form["avpu"]  # an unknown letter is refused on save
        if "glucose" in vitals:
            vitals["glucose_unit"] = form["glucose_unit"]
        data: dict[str, Any] = {"patient_id": self.patient_id, "kind": form["kind"], "vitals": vitals,
                                "hypercapnic": form["hypercapnic"], "notes": form["notes"]}
        fields: dict[tuple[str | int, ...], str] = {("vitals", name): name for name in (*FIELDS, "avpu")}
        fields[("vitals", "glucose_unit")] = "glucose"  # the unit decides the glucose's possible range
        for key, prefix, parts in (("diagnoses", "dx", DIAGNOSIS_PARTS), ("prescriptions", "rx", PRESCRIPTION_PARTS)):
            rows = self.query_one(f"#{key}", Rows).filled()
            data[key] = [{part: text for part, text in values.items() if text} for _row, values in rows]
            for item, (row, _values) in enumerate(rows):
                fields[(key, item)] = f"{prefix}-{row}-{parts[0][0]}"
                fields |= {(key, item, part): f"{prefix}-{row}-{part}" for part, _p, _w in parts}
        if form["refer_to"].strip() or form["refer_reason"].strip():
            data["referral"] = {"to_facility": form["refer_to"], "reason": form["refer_reason"],
                                "urgency": form["urgency"]}
            fields |= {("referral", name): widget for name, widget in REFERRAL_FIELDS.items()}
            fields[("referral",)] = "refer_to"
        if form["follow_up"].strip():
            data["follow_up"] = {"due": form["follow_up"]}
            fields[("follow_up", "due")] = fields[("follow_up",)] = "follow_up"
        fields[("notes",)] = "notes"
        fields[("kind",)] = "kind"
        return data, fields

    def action_save(self) -> None:
        data, fields = self.encounter()
        checked, found = check(Encounter, data)
        if found:
            self.show_problems(found, fields)
            return
        self.query_one("#encounter-error", Label).update("")
        urgency = checked.referral.urgency if checked.referral else None
        if not self.escalation_note and needs_escalation(self.news2(checked.vitals), urgency):
            self.app.push_screen(EscalateScreen(self.news2(checked.vitals)), self.escalated)
            return
        self.save(self.with_escalation(data))

    def show_problems(self, found: list[Problem], fields: dict[tuple[str | int, ...], str]) -> None:
        first: Widget | None = None
        for problem in found:
            widget_id = fields.get(problem.where)
            if widget_id is None:
                continue
            widget = self.query_one(f"#{widget_id}")
            notes = self.query(f"#{widget_id}-note")
            if notes:
                self._note(widget_id, problem.text, refused=True)
            elif isinstance(widget, Input):
                widget.add_class("refused")
            first = first or widget
        more = len(found) - 1
        line = found[0].text + (" " + _("(and {n} more)").format(n=digits(str(more))) if more else "")
        self.query_one("#encounter-error", Label).update(line)
        if first is not None:
            first.focus()

    def escalated(self, answer: tuple[str, str] | None) -> None:
        if answer is None:
            return
        choice, why = answer
        if choice == REFER:
            self.query_one("#urgency", Select).value = "emergency"
            facility = self.query_one("#refer_to", Input)
            if facility.value.strip():
                self.action_save()
                return
            self.query_one("#encounter-error", Label).update(
                _("Emergency referral: type where to, then F2 to save."))
            facility.focus()
        elif choice == NOTE:
            self.escalation_note = why
            self.action_save()

    def with_escalation(self, data: dict[str, Any]) -> dict[str, Any]:
        """The reason a high score was not escalated goes into the encounter's notes, where every
        reader of the chart sees it beside the score."""
        if not self.escalation_note:
            return data
        said = _("Not escalated: {reason}").format(reason=self.escalation_note)
        return {**data, "notes": "\n".join(part for part in (data["notes"].strip(), said) if part)}

    @background(exclusive=True, group="save")
    async def save(self, data: dict[str, Any]) -> None:
        try:
            recorded = await self.desk.record_encounter(data)
        except FieldkitError as exc:
            self.query_one("#encounter-error", Label).update(str(exc))
            return
        self.workers.cancel_group(self, "draft")
        await self.desk.drop_draft(self.patient_id)
        message = _("Saved.") + " " + recorded.news2.summary
        if data.get("follow_up"):
            note, _refused = follow_up_note(data["follow_up"]["due"])
            message += " " + _("Follow-up: {day}").format(day=note)
        self.notify(message, timeout=6)
        self.dismiss()


def upgraded(draft: dict[str, Any]) -> dict[str, Any]:
    """A draft kept by the one-line form of earlier versions, in today's fields: nothing typed is lost."""
    draft = dict(draft)
    if "diagnosis" in draft:
        typed = str(draft.pop("diagnosis") or "")
        draft |= {f"dx-0-{part}": value for part, value in diagnosis_from_text(typed).items()} if typed.strip() else {}
    if "prescription" in draft:
        typed = str(draft.pop("prescription") or "")
        draft |= {f"rx-0-{part}": value for part, value in prescription_from_text(typed).items()} if typed.strip() else {}
    return draft
