"""The command palette (ctrl+p): patients by name in any script, and the clinic's actions.

Patients come from the same multilingual search as the home screen, off the event loop; the
palette shows nothing until someone is signed in.
"""

from __future__ import annotations

from functools import partial

from textual.command import Hit, Hits, Provider

from fieldkit.i18n import _, digits
from fieldkit.tui.base import clinic_app
from fieldkit.tui.messages import OpenChart
from fieldkit.tui.words import word

MIN_QUERY = 2


class PatientCommands(Provider):
    async def search(self, query: str) -> Hits:
        desk = clinic_app(self).desk
        if desk is None or len(query.strip()) < MIN_QUERY:
            return
        for rank, patient in enumerate(await desk.search(query)):
            born = digits(patient.birth_date[:4]) if patient.birth_date else "?"
            yield Hit(1.0 - rank / 100, f"{patient.full_name}  ({word(patient.sex)}, {born})",
                      partial(self.app.post_message, OpenChart(patient.id)), text=patient.full_name,
                      help=_("open the chart · {locality}").format(locality=patient.locality or _("no locality")))
