"""One saved encounter in full, opened from the chart: when, by whom and under which record;
every reading with its unit, the scores with what gave their points, diagnoses, prescriptions,
the referral and follow-up made then, the notes, and every correction since.

A saved encounter is never changed (DESIGN decision 2): F3 adds an amendment (a note), F4 marks it
entered in error (a reason is required); both are new facts shown here and on the chart.
"""

from __future__ import annotations

from typing import Any

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.widgets import Footer, Static

from fieldkit.i18n import N_, _, day, moment, ngettext, number
from fieldkit.permissions import allowed
from fieldkit.records.models import GLUCOSE, MEASURES
from fieldkit.records.names import full_name
from fieldkit.records.scores import part_label
from fieldkit.tui.ask import Ask
from fieldkit.tui.base import ClinicScreen, background
from fieldkit.tui.status import StatusBar
from fieldkit.tui.words import unit, word

AVPU_WORDS = {"A": N_("Alert"), "C": N_("new Confusion"), "V": N_("responds to Voice"), "P": N_("responds to Pain"),
              "U": N_("Unresponsive")}


def readings(vitals: dict[str, Any]) -> list[str]:
    """Each reading as label, value and unit, in the order they are taken."""
    shown_ = [f"{_(measure.label)} {number(vitals[name], measure.decimals or None)} {unit(measure.unit)}"
              for name, measure in MEASURES.items() if vitals.get(name) is not None]
    if vitals.get("avpu"):
        shown_.append(f"{_('Consciousness')} {_(AVPU_WORDS.get(vitals['avpu'], vitals['avpu']))}")
    if vitals.get("on_oxygen"):
        shown_.append(_("on oxygen"))
    if vitals.get("glucose") is not None:
        measure = GLUCOSE[vitals.get("glucose_unit", "mg/dL")]
        shown_.append(f"{_(measure.label)} {number(vitals['glucose'], measure.decimals or None)} {unit(measure.unit)}")
    return shown_


def score_line(name: str, score: dict[str, Any]) -> str:
    if not score:
        return ""
    total = number(score["total"]) if score.get("total") is not None else "-"
    parts = ", ".join(f"{part_label(part)} {number(points)}" for part, points in (score.get("parts") or {}).items() if points)
    line = f"{name} {total} {_(score.get('band', ''))}".rstrip() + (f" · {parts}" if parts else "")
    if score.get("missing"):
        line += " · " + _("missing: {names}").format(names=", ".join(part_label(part) for part in score["missing"]))
    return line


def prescription(drug: dict[str, Any]) -> str:
    n = drug.get("duration_days")
    days = ngettext("{n} day", "{n} days", n).format(n=number(n)) if n else ""
    return " ".join(filter(None, (drug.get("drug"), drug.get("dose"), drug.get("route"), drug.get("frequency"), days)))


def details(record: dict[str, Any], encounter: dict[str, Any]) -> str:
    """The whole encounter as the lines the screen shows."""
    lines = [_("{at} · {kind} · recorded by {author}").format(
        at=moment(encounter["at"][:16]), kind=word(encounter.get("kind", "visit")),
        author=encounter.get("author_name") or encounter["author"][:8])]
    if encounter.get("patient_id") not in (None, record["id"]):
        other: dict[str, Any] = next((m for m in record.get("merged", ()) if m["id"] == encounter["patient_id"]), {})
        lines.append(_("Recorded under the merged record {name} ({id})").format(
            name=full_name(other) if other else "?", id=encounter["patient_id"]))
    for correction in encounter.get("amendments", []):
        if correction["kind"] == "entered_in_error":
            lines.append(_("ENTERED IN ERROR ({at}, {author}): {reason}").format(
                at=moment(correction["at"][:16]), author=correction.get("author_name") or correction["author"][:8],
                reason=correction.get("reason") or ""))
    lines += ["", _("Readings: {list}").format(list=" · ".join(readings(encounter.get("vitals", {}))) or _("none"))]
    scores = encounter.get("scores", {})
    lines += [line for line in (score_line("NEWS2", scores.get("news2", {})), score_line("qSOFA", scores.get("qsofa", {})))
              if line]
    diagnoses = [" ".join(filter(None, (d.get("code"), d.get("text")))) for d in encounter.get("diagnoses", [])]
    lines.append(_("Diagnoses: {list}").format(list="; ".join(diagnoses) or _("none")))
    drugs = [prescription(drug) for drug in encounter.get("prescriptions", [])]
    lines.append(_("Prescriptions: {list}").format(list="; ".join(drugs) or _("none")))
    for referral in record.get("referrals", []):
        if referral.get("encounter_id") == encounter["id"]:
            lines.append(_("Referred to {facility}, {urgency} ({status})").format(
                facility=referral.get("to_name") or referral["to_facility"], urgency=word(referral["urgency"]),
                status=word(referral["status"])))
    for follow_up in record.get("followups", []):
        if follow_up.get("encounter_id") == encounter["id"]:
            lines.append(_("Follow-up due {due} ({status})").format(due=day(follow_up["due"]),
                                                                   status=word(follow_up["status"])))
    if encounter.get("notes"):
        lines.append(_("Notes: {notes}").format(notes=encounter["notes"]))
    amended = [_("amended {at} by {author}: {note}").format(
        at=moment(a["at"][:16]), author=a.get("author_name") or a["author"][:8], note=a.get("note") or "")
        for a in encounter.get("amendments", []) if a["kind"] == "amend"]
    return "\n".join(lines + (["", *amended] if amended else []))


class EncounterView(ClinicScreen):
    DEFAULT_CSS = "#encounter-details { padding: 0 1; }"
    BINDINGS = [
        Binding("f3", "amend", N_("Amend"), id="amend"),
        Binding("f4", "entered_in_error", N_("Entered in error"), id="entered-in-error"),
        Binding("escape", "app.pop_screen", N_("Back"), id="back"),
        Binding("f12", "app.lock", N_("Lock"), id="lock"),
    ]

    def __init__(self, record: dict[str, Any], encounter_id: str) -> None:
        super().__init__()
        self.record, self.encounter_id = record, encounter_id

    @property
    def encounter(self) -> dict[str, Any]:
        return next(e for e in self.record["encounters"] if e["id"] == self.encounter_id)

    def compose(self) -> ComposeResult:
        yield StatusBar()
        with VerticalScroll(id="encounter-view"):
            yield Static(_("Encounter of {name}").format(name=full_name(self.record)), classes="title")
            yield Static(details(self.record, self.encounter), id="encounter-details")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#encounter-view").focus()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in ("amend", "entered_in_error"):
            return allowed(self.desk.user.role, "amend encounter") and not (
                action == "entered_in_error" and self.encounter.get("entered_in_error"))
        return True

    def action_amend(self) -> None:
        self.app.push_screen(Ask(_("Amendment: a note added to this encounter (what was recorded stays):"),
                                 self._amend), callback=self._changed)

    def action_entered_in_error(self) -> None:
        self.app.push_screen(Ask(_("Why was this encounter entered in error? (required; it stays in the record, "
                                   "marked as entered in error)"), self._entered_in_error), callback=self._changed)

    async def _amend(self, note: str) -> None:
        await self.desk.amend(self.encounter_id, note)

    async def _entered_in_error(self, reason: str) -> None:
        await self.desk.entered_in_error(self.encounter_id, reason)

    def _changed(self, saved: bool | None) -> None:
        if saved:
            self.notify(_("Saved."))
            self.reload()

    @background(exclusive=True)
    async def reload(self) -> None:
        self.record = await self.desk.patient(self.record["id"])
        self.query_one("#encounter-details", Static).update(details(self.record, self.encounter))
        self.refresh_bindings()
