"""The command palette (ctrl+p): patients by name in any script, and the clinic's actions.

Patients come from the same multilingual search as the home screen, off the event loop; the
palette shows nothing until someone is signed in.
"""

from __future__ import annotations

from functools import partial

from textual.command import Hit, Hits, Provider

MIN_QUERY = 2


class PatientCommands(Provider):
    async def search(self, query: str) -> Hits:
        desk = self.app.desk
        if desk is None or len(query.strip()) < MIN_QUERY:
            return
        for rank, patient in enumerate(await desk.search(query)):
            born = patient.birth_date[:4] if patient.birth_date else "?"
            yield Hit(1.0 - rank / 100, f"{patient.full_name}  ({patient.sex}, {born})",
                      partial(self.app.open_chart, patient.id), text=patient.full_name,
                      help=f"open the chart · {patient.locality or 'no locality'}")
