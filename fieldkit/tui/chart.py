"""A patient's chart: demographics, allergies where nobody can miss them, encounters newest first,
open follow-ups and referrals, and conflicts waiting on this record. Opening it is audited."""

from __future__ import annotations

from typing import Any

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.widgets import Footer, Static

from fieldkit.i18n import N_, _, day, digits, moment
from fieldkit.records.names import full_name
from fieldkit.tui.base import ClinicScreen, background
from fieldkit.tui.messages import OpenEncounter
from fieldkit.tui.rtl import shown
from fieldkit.tui.status import StatusBar
from fieldkit.tui.words import word


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
    lines = [shown(full_name(record)),
             _("{sex} · born {born} · {locality}").format(
                 sex=sex, born=born, locality=shown(record.get("locality")) or _("no locality")),
             _("phone {phone} · {ids}").format(phone=record.get("phone") or "-", ids=ids)]
    if record.get("merged_into"):
        lines.append(_("MERGED into {id}: record new encounters there").format(id=record["merged_into"]))
    if record.get("voided"):
        lines.append(_("VOIDED record"))
    return "\n".join(lines)


def allergies(record: dict[str, Any]) -> str:
    both = disputed(record, "allergies", lambda v: shown(", ".join(v or [])) or _("none"))
    if both is not None:
        return _("ALLERGIES: {list}").format(list=both)
    found = record.get("allergies") or []
    return _("ALLERGIES: {list}").format(list=shown(", ".join(found))) if found else _("No known allergies recorded")


def encounter_line(encounter: dict[str, Any]) -> str:
    news2 = encounter.get("scores", {}).get("news2", {})
    diagnoses = "; ".join(d.get("text") or d.get("code") or "" for d in encounter.get("diagnoses", []))
    kind = word(encounter.get("kind", "visit"))
    total = digits(str(news2["total"])) if "total" in news2 else "-"
    line = f"{moment(encounter['at'][:16])}  {kind:<11} NEWS2 {total} {_(news2.get('band', ''))}  {shown(diagnoses)}"
    if encounter.get("entered_in_error"):
        line += "  " + _("[ENTERED IN ERROR]")
    notes = ["    " + _("amended: {note}").format(note=shown(a.get("note")))
             for a in encounter.get("amendments", []) if a["kind"] == "amend"]
    return "\n".join([line, *notes])


def tasks(record: dict[str, Any]) -> str:
    lines = [_("follow-up {due} {reason} ({status})").format(due=day(f["due"]), reason=shown(f["reason"] or ""),
                                                            status=word(f["status"]))
             for f in record["followups"] if f["status"] == "open"]
    lines += [_("referral to {facility}, {urgency} ({status})").format(
                  facility=shown(r["to_facility"]), urgency=word(r["urgency"]),
                  status=word(r["status"]))
              for r in record["referrals"] if r["status"] in ("pending", "sent")]
    return "\n".join(lines) or _("No open follow-up or referral")


def conflicts(record: dict[str, Any]) -> str:
    return "\n".join(
        _("CONFLICT on {field}: ").format(field=word(c["field"])) + " / ".join(repr(v["value"]) for v in c["candidates"])
        + (" " + _("(waits for a supervisor)") if c["needs_review"] else "")
        for c in record["conflicts"])


class ChartScreen(ClinicScreen):
    BINDINGS = [
        Binding("f5", "encounter", N_("New encounter"), id="new-encounter"),
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
            yield Static(id="allergies")
            yield Static(id="conflicts", classes="warning")
            yield Static(_("Open tasks"), classes="title")
            yield Static(id="tasks")
            yield Static(_("Encounters"), classes="title")
            yield Static(id="encounters")
        yield Footer()

    def on_mount(self) -> None:
        self.load()

    def on_screen_resume(self) -> None:
        self.load()

    @background(exclusive=True)
    async def load(self) -> None:
        record = self.record = await self.desk.patient(self.patient_id)
        self.query_one("#demographics", Static).update(demographics(record))
        allergy = self.query_one("#allergies", Static)
        allergy.update(allergies(record))
        allergy.set_class(bool(record.get("allergies")) or "allergies" in record["disputed"], "alert")
        self.query_one("#conflicts", Static).update(conflicts(record))
        self.query_one("#tasks", Static).update(tasks(record))
        self.query_one("#encounters", Static).update(
            "\n".join(encounter_line(e) for e in record["encounters"]) or _("No encounter yet"))

    def action_encounter(self) -> None:
        if self.record is not None:
            self.post_message(OpenEncounter(self.patient_id, self.record))
