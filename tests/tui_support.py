"""What the clinic screen's tests share: the demo patient, and ways to wait for the screen
instead of sleeping (fixtures are in tui/conftest.py)."""

from __future__ import annotations

import asyncio
import html
import re

PASSPHRASE = "field kit 2026"
FATIMA = {"given_name": "فاطمة", "family_name": "الحسن", "sex": "female", "birth_date": "1988-03-02",
          "phone": "+963944123456", "allergies": ["penicillin"]}


async def until(pilot, condition, seconds: float = 15) -> None:
    for _ in range(int(seconds / 0.05)):
        if condition():
            return
        await pilot.pause(0.05)
    raise AssertionError("the screen never got there")


def text(app, selector: str) -> str:
    return str(app.screen.query_one(selector).render())


def screen(app) -> str:
    return type(app.screen).__name__


def passphrase_field_ready(app) -> bool:
    return screen(app) == "UnlockScreen" and getattr(app.screen.focused, "id", None) == "passphrase"


async def sign_in(pilot, passphrase=PASSPHRASE) -> None:
    await until(pilot, lambda: passphrase_field_ready(pilot.app))
    await pilot.press(*passphrase, "enter")
    await until(pilot, lambda: screen(pilot.app) == "HomeScreen")


async def open_encounter_for_fatima(pilot) -> None:
    app = pilot.app
    await pilot.press(*"fatima")
    await until(pilot, lambda: app.screen.query_one("#results").row_count == 1)
    await pilot.press("enter")
    await until(pilot, lambda: screen(app) == "ChartScreen" and app.screen.record is not None)
    await pilot.press("f5")
    await until(pilot, lambda: screen(app) == "EncounterScreen")


async def save_an_encounter(pilot, temperature: str) -> None:
    """On the encounter form: a temperature and a pulse, F2 to save, back on the chart."""
    await pilot.press(*temperature, "tab", *"88", "f2")
    await until(pilot, lambda: screen(pilot.app) == "ChartScreen" and pilot.app.screen.record is not None)


def drawn_rows(app) -> list[str]:
    """The screen as the terminal draws it, one string per row (read from the screenshot's SVG,
    its no-break spaces back to spaces): what a person sees, after wrapping and right-to-left layout."""
    rows: dict[float, list[str]] = {}
    for y, part in re.findall(r'<text[^>]*\by="([\d.]+)"[^>]*>(.*?)</text>', app.export_screenshot()):
        rows.setdefault(float(y), []).append(html.unescape(part).replace("\xa0", " "))
    return ["".join(rows[y]) for y in sorted(rows)]


def drawn(app) -> str:
    return "\n".join(drawn_rows(app))


async def all_drawn(pilot, words: list[str]) -> None:
    """Every one of `words` is drawn whole (the footer is drawn a moment after the screen)."""
    app = pilot.app
    try:
        await until(pilot, lambda: all(found in drawn(app) for found in words), seconds=5)
    except AssertionError:
        cut = [found for found in words if found not in drawn(app)]
        raise AssertionError(f"cut or missing: {cut}\n{drawn(app)}") from None


async def journal_length(app) -> int:
    return (await app.desk.store.aread(lambda conn: conn.execute("SELECT count(*) FROM journal").fetchone()))[0]


async def open_chart(pilot, typed: str) -> None:
    app = pilot.app
    await pilot.press(*typed)
    await until(pilot, lambda: app.screen.query_one("#results").row_count >= 1)
    await pilot.press("enter")
    await until(pilot, lambda: screen(app) == "ChartScreen" and app.screen.record is not None)


async def choose(pilot, selector: str, label: str) -> None:
    """Open a chooser and go down to the option whose label starts with `label`, then Enter."""
    app = pilot.app
    chooser = app.screen.query_one(selector)
    chooser.focus()
    await pilot.press("enter")
    await until(pilot, lambda: chooser.expanded)
    labels = [str(prompt) for prompt, _value in chooser._options]
    index = next(i for i, found in enumerate(labels) if found.startswith(label))
    current = chooser.query_one("SelectOverlay").highlighted or 0
    steps = index - current
    await pilot.press(*["down" if steps > 0 else "up"] * abs(steps), "enter")
    await until(pilot, lambda: not chooser.expanded)
    await pilot.pause()  # the screen hears of the choice


def seed(home, build):
    """Run `build(clinic)` on the clinic's store before the screen opens (off the event loop)."""
    from fieldkit.records.services import Clinic
    from fieldkit.store.session import unlock

    def run():
        store, user = unlock(home, "amina", PASSPHRASE)
        try:
            return build(Clinic(store, user))
        finally:
            store.close()
    return asyncio.to_thread(run)
