"""Counts over time as an SVG bar chart drawn on the hub, so that a page needs no JavaScript (its
Content-Security-Policy allows none) and prints as it shows.

Colours and fonts come from hub.css through class names: the policy refuses inline styles too.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from markupsafe import Markup, escape

from fieldkit.i18n import number

WIDTH, HEIGHT = 720, 260
AXIS, END, TOP, BOTTOM = 56, 12, 12, 40  # room for the count axis, beyond the last bar, and for the periods
LABELS = 12  # at most this many period labels under the bars; more would overlap
BAR = 48  # the widest a bar is drawn, when there are few
NOT_XML = re.compile("[^\t\n\r\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def _text(label: str) -> str:
    """`label` escaped, without the control characters an SVG (XML) document may not hold."""
    return str(escape(NOT_XML.sub("", label)))


def nice_step(top: int, ticks: int = 4) -> int:
    """A round step (1, 2 or 5 times a power of ten) giving about `ticks` gridlines up to `top`."""
    rough = max(top / ticks, 1)
    power = 10 ** (len(str(int(rough))) - 1)
    return next(step * power for step in (1, 2, 5, 10) if step * power >= rough)


def bars(points: Sequence[tuple[str, int]], title: str, *, rtl: bool = False) -> Markup:
    """A bar per (period label, count), in the order given. In a right-to-left page the chart is
    mirrored (the count axis on the right, time running leftwards) as the page reads. `title` names
    the chart for screen readers; labels are escaped."""
    inner_w, inner_h = WIDTH - AXIS - END, HEIGHT - TOP - BOTTOM
    top = max((count for _, count in points), default=0)
    step = nice_step(top)
    ceiling = max(step * -(-top // step), step)
    slot = inner_w / max(len(points), 1)
    every = -(-len(points) // LABELS) or 1

    def across(offset: float) -> float:
        """x of a point `offset` from where the bars begin, in the page's reading direction."""
        return WIDTH - AXIS - offset if rtl else AXIS + offset

    # direction="ltr": anchors below mean left and right, whatever the page's direction.
    parts = [f'<svg class="chart" role="img" viewBox="0 0 {WIDTH} {HEIGHT}" direction="ltr" '
             f'xmlns="http://www.w3.org/2000/svg"><title>{_text(title)}</title>']
    label_x, anchor = (WIDTH - AXIS + 6, "start") if rtl else (AXIS - 6, "end")
    for tick in range(0, ceiling + 1, step):
        y = TOP + inner_h - inner_h * tick / ceiling
        parts.append(f'<line class="grid" x1="{across(0):.1f}" x2="{across(inner_w):.1f}" y1="{y:.1f}" y2="{y:.1f}"/>'
                     f'<text class="tick" x="{label_x}" y="{y + 4:.1f}" text-anchor="{anchor}">{escape(number(tick))}</text>')
    for index, (label, count) in enumerate(points):
        middle, height, width = across((index + 0.5) * slot), inner_h * count / ceiling, min(slot * 0.7, BAR)
        parts.append(f'<rect class="bar" x="{middle - width / 2:.1f}" y="{TOP + inner_h - height:.1f}" '
                     f'width="{width:.1f}" height="{height:.1f}"><title>{_text(label)}: '
                     f"{escape(number(count))}</title></rect>")
        if index % every == 0:
            parts.append(f'<text class="period" x="{middle:.1f}" y="{HEIGHT - BOTTOM + 16}" '
                         f'text-anchor="middle">{_text(label)}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))
