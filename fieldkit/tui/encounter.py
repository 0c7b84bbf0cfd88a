"""Recording an encounter: vitals with their units, scores updating as they are typed, save on F2.

Each reading is checked when the field is left: an impossible one is refused (the message names
the range), an alarming one is flagged and kept. NEWS2 and qSOFA are recomputed on every
keystroke from the readings that are valid so far, shown as number, word and breakdown. What is
typed is kept as a draft in the encrypted database, so a crash or a lock loses nothing.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Grid, Horizontal, VerticalScroll
from textual.widgets import Checkbox, Footer, Input, Label, Static

from fieldkit.errors import FieldkitError
from fieldkit.i18n import N_, _, digits
from fieldkit.records.models import (
    MEASURES,
    Vitals,
    age_in_years,
    alarm,
    check_measure,
    diagnosis_from_text,
    full_name,
    prescription_from_text,
)
from fieldkit.records.scores import Score, news2, qsofa
from fieldkit.text import ascii_digits
from fieldkit.tui.base import ClinicScreen, background
from fieldkit.tui.rtl import shown
from fieldkit.tui.status import StatusBar

# The vitals of a follow-up, in the order they are taken; Tab walks them.
FIELDS = ("temperature_c", "pulse", "resp_rate", "systolic_bp", "diastolic_bp", "spo2", "weight_kg", "muac_mm")
# Consciousness is one key in the tab order right after SpO2: a letter, or 1-5 where the keyboard
# layout types no Latin letters. A Select here cost six keys per encounter.
AVPU = (("A", N_("Alert")), ("C", N_("new Confusion")), ("V", N_("responds to Voice")),
        ("P", N_("responds to Pain")), ("U", N_("Unresponsive")))


LABELS = {name: measure.label for name, measure in MEASURES.items()} | {
    "oxygen": N_("Oxygen"), "avpu": N_("Consciousness"), "mentation": N_("Altered mentation")}
VITALS_ROWS = (*FIELDS[:6], "avpu", *FIELDS[6:])


def avpu_code(typed: str) -> str | None:
    """The AVPU code for what was typed (A, C, V, P, U or 1-5), None if it is none of them."""
    typed = ascii_digits(typed.strip()).upper()
    codes = [code for code, _label in AVPU]
    if typed in codes:
        return typed
    return codes[int(typed) - 1] if typed in {"1", "2", "3", "4", "5"} else None


def breakdown(score: Score) -> str:
    """Number and word first (never colour alone), then what gave the points, then what is missing."""
    parts = ", ".join(f"{_(LABELS[name])} {digits(str(points))}" for name, points in score.parts.items() if points)
    lines = [f"{score.name} {digits(str(score.total))} {_(score.band)}: {_(score.response)}",
             f"  {parts or _('no parameter scores')}"]
    if score.missing:
        lines.append("  " + _("missing: {names}").format(names=", ".join(_(LABELS[name]) for name in score.missing)))
    return shown("\n".join(lines))


class Tick(Checkbox):
    """A checkbox whose mark is a character, not only a colour: X when ticked, blank when not."""

    # Checkbox draws one constant character; this one follows the value.
    @property
    def BUTTON_INNER(self) -> str:  # type: ignore[override]
        return "X" if self.value else " "


class EncounterScreen(ClinicScreen):
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
        self.title_line = shown(full_name(record))
        if record.get("allergies"):
            self.title_line += "  " + _("ALLERGIES: {list}").format(list=shown(", ".join(record["allergies"])))

    def compose(self) -> ComposeResult:
        yield StatusBar()
        with VerticalScroll(id="encounter"):
            yield Static(_("New encounter: {patient}").format(patient=self.title_line), classes="title")
            with Grid(id="vitals"):
                for name in VITALS_ROWS:
                    if name == "avpu":
                        yield Label(shown(_("Consciousness (AVPU)")))
                        yield Input(id="avpu", classes="vital", compact=True, max_length=1, placeholder="ACVPU 1-5")
                    else:
                        measure = MEASURES[name]
                        yield Label(shown(f"{_(measure.label)} ({measure.unit})"))
                        yield Input(id=name, classes="vital", compact=True)
                    yield Label("", id=f"{name}-note", classes="note")
            with Horizontal(id="consciousness"):
                yield Tick(shown(_("on oxygen")), id="on_oxygen", compact=True)
                yield Tick(shown(_("SpO2 scale 2")), id="hypercapnic", compact=True)
            yield Static(id="scores", classes="scores")
            yield Input(placeholder=_("Diagnosis: ICD-10 code, colon, text (J18.9:pneumonia)"), id="diagnosis",
                        compact=True)
            yield Input(placeholder=_("Prescription: drug;dose;route;frequency;days"), id="prescription", compact=True)
            yield Input(placeholder=_("Refer to (facility)"), id="refer_to", compact=True)
            yield Input(placeholder=_("Follow-up due (YYYY-MM-DD)"), id="follow_up", compact=True)
            yield Input(placeholder=_("Notes"), id="notes", compact=True)
            yield Label("", id="encounter-error", classes="error")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#temperature_c").focus()
        self.restore_draft()

    # -- readings -------------------------------------------------------------------------------

    def readings(self) -> dict[str, Any]:
        """The valid readings typed so far; invalid ones are left out until corrected."""
        vitals: dict[str, Any] = {}
        for name in FIELDS:
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
        hypercapnic = self.query_one("#hypercapnic", Checkbox).value
        early = news2(vitals, hypercapnic=hypercapnic, age_years=self.age)
        self.query_one("#scores", Static).update(f"{breakdown(early)}\n{breakdown(qsofa(vitals))}")
        self.keep_draft()

    @on(Input.Blurred, ".vital")
    def check(self, event: Input.Blurred) -> None:
        name, text = event.input.id or "", event.value.strip()
        note = self.query_one(f"#{name}-note", Label)
        event.input.remove_class("invalid")
        if not text:
            note.update("")
            return
        if name == "avpu":
            code = avpu_code(text)
            labels = dict(AVPU)
            note.update(shown(_(labels[code]) if code else _("refused: type A, C, V, P or U (or 1 to 5)")))
            event.input.set_class(code is None, "invalid")
            return
        try:
            value = check_measure(MEASURES[name], text)
        except ValueError as exc:
            note.update(shown(_("refused: {problem}").format(problem=exc)))
            event.input.add_class("invalid")
            return
        note.update(shown(alarm(MEASURES[name], value)))

    # -- the draft ------------------------------------------------------------------------------

    def form(self) -> dict[str, Any]:
        values: dict[str, Any] = {str(widget.id): widget.value for widget in self.query(Input)}
        values.update({str(box.id): box.value for box in self.query(Checkbox)})
        return values

    @background(exclusive=True, group="draft")
    async def keep_draft(self) -> None:
        await self.desk.keep_draft(self.patient_id, self.form())

    @background(exclusive=True, group="draft")
    async def restore_draft(self) -> None:
        draft = await self.desk.draft(self.patient_id)
        for key, value in (draft or {}).items():
            widget = self.query_one(f"#{key}")
            if value not in (None, "") and isinstance(widget, (Input, Checkbox)):
                widget.value = value
        self.rescore()

    # -- saving ---------------------------------------------------------------------------------

    def encounter(self) -> dict[str, Any]:
        form = self.form()
        vitals = {name: form[name] for name in FIELDS if form[name].strip()}
        vitals["on_oxygen"] = form["on_oxygen"]
        if form["avpu"].strip():
            vitals["avpu"] = avpu_code(form["avpu"]) or form["avpu"]  # an unknown letter is refused on save
        data: dict[str, Any] = {"patient_id": self.patient_id, "vitals": vitals,
                                "hypercapnic": form["hypercapnic"], "notes": form["notes"]}
        if form["diagnosis"].strip():
            data["diagnoses"] = [diagnosis_from_text(form["diagnosis"])]
        if form["prescription"].strip():
            data["prescriptions"] = [prescription_from_text(form["prescription"])]
        if form["refer_to"].strip():
            data["referral"] = {"to_facility": form["refer_to"]}
        if form["follow_up"].strip():
            data["follow_up"] = {"due": form["follow_up"]}
        return data

    def action_save(self) -> None:
        self.save()

    @background(exclusive=True, group="save")
    async def save(self) -> None:
        try:
            recorded = await self.desk.record_encounter(self.encounter())
        except FieldkitError as exc:
            self.query_one("#encounter-error", Label).update(str(exc))
            return
        self.workers.cancel_group(self, "draft")
        await self.desk.drop_draft(self.patient_id)
        self.notify(shown(_("Saved.") + " " + recorded.news2.summary), timeout=6)
        self.dismiss()
