"""A list typed row by row, such as an encounter's diagnoses or prescriptions.

There is always one empty row at the end: typing in it adds the next, so a second diagnosis is
Tab away and never a key to learn. Blank rows are not items. Each field's id is
`<prefix>-<row>-<part>`, which is also its key in the encounter's draft.
"""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import Input

from fieldkit.i18n import _

# (part, placeholder marked with N_, width in cells; 0 takes what is left)
Part = tuple[str, str, int]


class Rows(Vertical):
    DEFAULT_CSS = """
    Rows { height: auto; }
    Rows > Horizontal { height: 1; }
    Rows Input { margin: 0 1 0 0; }
    """

    def __init__(self, prefix: str, parts: tuple[Part, ...], limit: int, **kwargs) -> None:
        super().__init__(**kwargs)
        self.prefix, self.parts, self.limit = prefix, parts, limit

    def compose(self) -> ComposeResult:
        yield self._row(0)

    def _row(self, index: int) -> Horizontal:
        fields = []
        for part, placeholder, width in self.parts:
            field = Input(id=f"{self.prefix}-{index}-{part}", placeholder=_(placeholder), compact=True)
            field.styles.width = width or "1fr"
            fields.append(field)
        return Horizontal(*fields)

    @property
    def count(self) -> int:
        return len(self.children)

    def field(self, index: int, part: str) -> Input:
        return self.query_one(f"#{self.prefix}-{index}-{part}", Input)

    def filled(self) -> list[tuple[int, dict[str, str]]]:
        """The rows with something typed, with their row number: {part: text}."""
        found = []
        for index in range(self.count):
            values = {part: self.field(index, part).value.strip() for part, _p, _w in self.parts}
            if any(values.values()):
                found.append((index, values))
        return found

    async def ensure(self, rows: int) -> None:
        """At least `rows` rows (a draft being restored had that many)."""
        while self.count < min(rows, self.limit):
            await self.mount(self._row(self.count))

    @on(Input.Changed)
    def grow(self) -> None:
        last = self.count - 1
        if self.count < self.limit and any(self.field(last, part).value.strip() for part, _p, _w in self.parts):
            self.mount(self._row(self.count))
