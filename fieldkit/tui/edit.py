"""Editing a patient's demographics from the chart: the registration form, filled in.

The form and its reading of what was typed are registration's own, and the save goes through
the same validation (`services.edit` validates the whole record as `register` does); only the
fields that really changed are journalled, each with the version its author saw, so an edit made
meanwhile on another laptop becomes a conflict, and on a safety field (birth date, sex,
allergies) waits for a supervisor, as every edit does.
"""

from __future__ import annotations

from typing import Any

from textual.widgets import Input, Label, Select, Static

from fieldkit.errors import FieldkitError
from fieldkit.i18n import _
from fieldkit.records.names import full_name
from fieldkit.tui.base import background
from fieldkit.tui.register import TEXT_FIELDS, RegisterScreen
from fieldkit.tui.words import word

TYPED = ("given_name", "other_names", "family_name", "phone", "locality")


def prefilled(record: dict[str, Any]) -> dict[str, str]:
    """What each field of the form shows for the record as it stands."""
    return {name: str(record.get(name) or "") for name in TYPED} | {
        "birth_date": record.get("birth_date") or "", "age": "", "allergies": ", ".join(record.get("allergies") or [])}


class EditScreen(RegisterScreen):
    def __init__(self, record: dict[str, Any]) -> None:
        super().__init__()
        self.record = record

    def on_mount(self) -> None:
        super().on_mount()
        self.query_one(".title", Static).update(_("Edit {name}").format(name=full_name(self.record)))
        values = prefilled(self.record)
        for name, _label in TEXT_FIELDS:
            self.query_one(f"#{name}", Input).value = values.get(name, "")
        self.query_one("#sex", Select).value = self.record.get("sex") or "unknown"
        self.query_one("#name_order", Select).value = self.record.get("name_order") or "given-first"

    def changes(self) -> dict[str, Any]:
        """Every field the form shows, blank ones as blank (they clear the field): the use case keeps
        only those that differ from the record."""
        data = self.patient()
        changes: dict[str, Any] = {name: data.get(name, "") for name in TYPED}
        changes |= {"sex": data["sex"], "allergies": data.get("allergies", []), "name_order": data["name_order"]}
        typed_birth = self.query_one("#birth_date", Input).value.strip()
        if data.get("birth_date_estimated"):  # an age typed in place of the date
            changes |= {"birth_date": data["birth_date"], "birth_date_estimated": True}
        elif typed_birth != (self.record.get("birth_date") or ""):
            changes |= {"birth_date": data.get("birth_date") or None, "birth_date_estimated": False}
        return changes

    @background(exclusive=True)
    async def save(self) -> None:
        error = self.query_one("#register-error", Label)
        try:
            changed = await self.desk.edit_patient(self.record["id"], self.changes())
        except FieldkitError as exc:
            error.update(_(str(exc)))
            return
        if changed:
            self.notify(_("Saved: {fields}.").format(fields=", ".join(word(name) for name in changed)))
        else:
            self.notify(_("Nothing changed."))
        self.dismiss()
