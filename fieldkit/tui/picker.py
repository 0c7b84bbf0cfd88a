"""A list of a few multi-line items read like text, with a cursor: a chart's tasks or encounters.

A DataTable cuts each row to one line and its columns to the width of 80 columns; these items
keep their wrapped lines (an encounter with its corrections) and read as the chart always read.
Up and Down move the cursor, which is drawn in reverse while the list has focus; the screen
decides what Enter does with `picker.chosen`.
"""

from __future__ import annotations

from typing import Generic, TypeVar

from textual.binding import Binding
from textual.content import Content
from textual.geometry import Region
from textual.widgets import Static

T = TypeVar("T")


class Picker(Static, Generic[T], can_focus=True):
    BINDINGS = [Binding("up", "move(-1)", show=False), Binding("down", "move(1)", show=False),
                Binding("home", "move(-1000)", show=False), Binding("end", "move(1000)", show=False)]

    def __init__(self, *, id: str) -> None:
        super().__init__(id=id)
        self.items: list[tuple[str, T]] = []
        self.cursor = 0
        self.empty = ""

    def show(self, items: list[tuple[str, T]], empty: str) -> None:
        """Items as (text, what it stands for); `empty` when there are none. The cursor stays put."""
        self.items, self.empty = items, empty
        self.cursor = min(self.cursor, max(len(items) - 1, 0))
        self._draw()

    @property
    def chosen(self) -> T | None:
        return self.items[self.cursor][1] if self.items else None

    def action_move(self, step: int) -> None:
        if self.items:
            self.cursor = max(0, min(len(self.items) - 1, self.cursor + step))
            self._draw()
            self._keep_in_view()

    def on_focus(self) -> None:
        self._draw()
        self._keep_in_view()

    def on_blur(self) -> None:
        self._draw()

    def _draw(self) -> None:
        if not self.items:
            self.update(self.empty)
            return
        texts = [text for text, _item in self.items]
        content = Content("\n".join(texts))
        if self.has_focus:
            start = sum(len(text) + 1 for text in texts[:self.cursor])
            content = content.stylize("reverse", start, start + len(texts[self.cursor]))
        self.update(content)

    def _keep_in_view(self) -> None:
        top = sum(text.count("\n") + 1 for text, _item in self.items[:self.cursor])
        height = self.items[self.cursor][0].count("\n") + 1 if self.items else 1
        if self.parent is not None and hasattr(self.parent, "scroll_to_region"):
            region = Region(0, self.virtual_region.y + top, 1, height)
            self.parent.scroll_to_region(region, animate=False, immediate=True)
