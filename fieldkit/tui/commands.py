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


class ScreenActions(Provider):
    """A screen's own actions in the palette, each with the key that does it: a subclass lists them
    as (title, help, action) and the screen names the subclass in its COMMANDS. An action the
    screen refuses now (`check_action`) is not offered."""

    ACTIONS: tuple[tuple[str, str, str], ...] = ()

    async def discover(self) -> Hits:
        for hit in self._hits(lambda _text: 1.0):
            yield hit

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for hit in self._hits(matcher.match):
            if hit.score > 0:
                yield hit

    def _hits(self, score):
        screen = self.screen
        if type(self) not in getattr(screen, "COMMANDS", ()):
            return
        for title, help_text, action in self.ACTIONS:
            if screen.check_action(action, ()) is False:
                continue
            text = _(title)
            # A bare key name ("F3") has no catalogue entry and comes back as it is.
            yield Hit(score(text), text, partial(screen.run_action, action), text=text, help=_(help_text))
