"""Where a screen asks the app to go: screens post these, and the app alone moves between screens."""

from __future__ import annotations

from typing import Any

from textual.message import Message


class OpenChart(Message):
    """Show a patient's chart; `instead` of the screen that asks (a form just saved), or on top."""

    def __init__(self, patient_id: str, *, instead: bool = False) -> None:
        super().__init__()
        self.patient_id = patient_id
        self.instead = instead


class OpenEncounter(Message):
    """Record an encounter for the patient whose chart (`record`) is open."""

    def __init__(self, patient_id: str, record: dict[str, Any]) -> None:
        super().__init__()
        self.patient_id = patient_id
        self.record = record


class OpenRegistration(Message):
    """Register a patient, starting from what was typed in the search box."""

    def __init__(self, typed: str = "") -> None:
        super().__init__()
        self.typed = typed
