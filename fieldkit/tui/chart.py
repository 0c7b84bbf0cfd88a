"""A patient's chart: demographics, allergies where nobody can miss them, encounters newest first,
open follow-ups and referrals, and conflicts waiting on this record. Opening it is audited."""

from __future__ import annotations

from typing import Any

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.widgets import Footer, Static

from fieldkit.records.models import full_name
from fieldkit.tui.status import StatusBar


def demographics(record: dict[str, Any]) -> str:
    born = record.get("birth_date") or "unknown"
    if record.get("birth_date_estimated"):
        born += " (estimated)"
    ids = ", ".join(f"{system} {value}" for system, value in (record.get("identifiers") or {}).items())
    lines = [full_name(record),
             f"{record.get('sex') or 'unknown'} · born {born} · {record.get('locality') or 'no locality'}",
             f"phone {record.get('phone') or '-'} · {ids or 'no identifier'}"]
    if record.get("merged_into"):
        lines.append(f"MERGED into {record['merged_into']}: record new encounters there")
    if record.get("voided"):
        lines.append("VOIDED record")
    return "\n".join(lines)


def allergies(record: dict[str, Any]) -> str:
    found = record.get("allergies") or []
    return f"ALLERGIES: {', '.join(found)}" if found else "No known allergies recorded"


def encounter_line(encounter: dict[str, Any]) -> str:
    news2 = encounter.get("scores", {}).get("news2", {})
    diagnoses = "; ".join(d.get("text") or d.get("code") or "" for d in encounter.get("diagnoses", []))
    line = (f"{encounter['at'][:16].replace('T', ' ')}  {encounter.get('kind', 'visit'):<11} "
            f"NEWS2 {news2.get('total', '-')} {news2.get('band', '')}  {diagnoses}")
    if encounter.get("entered_in_error"):
        line += "  [ENTERED IN ERROR]"
    notes = [f"    amended: {a.get('note')}" for a in encounter.get("amendments", []) if a["kind"] == "amend"]
    return "\n".join([line, *notes])


def tasks(record: dict[str, Any]) -> str:
    lines = [f"follow-up {f['due']} {f['reason'] or ''} ({f['status']})" for f in record["followups"]
             if f["status"] == "open"]
    lines += [f"referral to {r['to_facility']}, {r['urgency']} ({r['status']})" for r in record["referrals"]
              if r["status"] in ("pending", "sent")]
    return "\n".join(lines) or "No open follow-up or referral"


def conflicts(record: dict[str, Any]) -> str:
    return "\n".join(
        f"CONFLICT on {c['field']}: " + " / ".join(repr(v["value"]) for v in c["candidates"])
        + (" (waits for a supervisor)" if c["needs_review"] else "")
        for c in record["conflicts"])


class ChartScreen(Screen):
    BINDINGS = [
        Binding("f5", "encounter", "New encounter", id="new-encounter"),
        Binding("escape", "app.pop_screen", "Back", id="back"),
        Binding("f12", "app.lock", "Lock", id="lock"),
    ]

    def __init__(self, patient_id: str) -> None:
        super().__init__()
        self.patient_id = patient_id
        self.record: dict[str, Any] | None = None

    def compose(self) -> ComposeResult:
        yield StatusBar()
        with VerticalScroll(id="chart"):
            yield Static("opening…", id="demographics")
            yield Static(id="allergies")
            yield Static(id="conflicts", classes="warning")
            yield Static("Open tasks", classes="title")
            yield Static(id="tasks")
            yield Static("Encounters", classes="title")
            yield Static(id="encounters")
        yield Footer()

    def on_mount(self) -> None:
        self.load()

    def on_screen_resume(self) -> None:
        self.load()

    @work(exclusive=True)
    async def load(self) -> None:
        record = self.record = await self.app.desk.patient(self.patient_id)
        self.query_one("#demographics", Static).update(demographics(record))
        allergy = self.query_one("#allergies", Static)
        allergy.update(allergies(record))
        allergy.set_class(bool(record.get("allergies")), "alert")
        self.query_one("#conflicts", Static).update(conflicts(record))
        self.query_one("#tasks", Static).update(tasks(record))
        self.query_one("#encounters", Static).update(
            "\n".join(encounter_line(e) for e in record["encounters"]) or "No encounter yet")

    def action_encounter(self) -> None:
        if self.record is not None:
            self.app.open_encounter(self.patient_id, self.record)
