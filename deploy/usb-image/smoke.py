"""The image's clinic-screen smoke test, run by the installed fieldkit's own Python inside the
image's chroot, with no network (stage2-fieldkit/01-smoke): a demo clinic of 50 patients, then the
real clinic screen driven by Textual's Pilot (`App.run_test`, no pytest in the image) as the tests
in tests/tui/ drive it: the sign-in screen, the demo passphrase typed, the clinic screen, a search
for a demo patient returning that patient.

    python smoke.py [WORK_DIR]

Prints one line per step seen ("ok: ..."); exits 0 only if every step was seen, 1 otherwise.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import tempfile
from pathlib import Path

STEP_SECONDS = 60.0  # a slow laptop's first sign-in (Argon2id, 256 MiB) and first search


def say(line: str) -> None:
    print(line, flush=True)


async def until(pilot, condition, what: str) -> None:
    for _ in range(int(STEP_SECONDS / 0.05)):
        if condition():
            return
        await pilot.pause(0.05)
    raise AssertionError(f"never saw {what}")


def make_demo(home: Path) -> None:
    """`fieldkit demo` as a person would run it, by the installed command."""
    fieldkit = Path(sys.executable).with_name("fieldkit")
    command = [str(fieldkit), "--home", str(home), "demo", "--no-tui", "--patients", "50"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=600)
    if done.returncode != 0:
        raise AssertionError(f"{' '.join(command)} exited {done.returncode}: {done.stderr.strip()}")
    say(f"ok: demo clinic created ({done.stderr.strip().splitlines()[-1]})")


async def drive(home: Path) -> None:
    # The same entry point `fieldkit demo` opens (fieldkit.cli.context.open_tui -> fieldkit.tui.app.run).
    from textual.widgets import DataTable, Input, Static

    from fieldkit.cli.context import DEMO_PASSPHRASE, DEMO_USER
    from fieldkit.records.demo import people
    from fieldkit.store.home import Home
    from fieldkit.store.threads import favour_quick_reads
    from fieldkit.tui.app import FieldkitApp
    from fieldkit.tui.home import HomeScreen

    favour_quick_reads()
    family = next(people(1, seed=2026)).patient.family_name  # the demo's first patient
    app = FieldkitApp(Home(home), user=DEMO_USER, shown_passphrase=DEMO_PASSPHRASE)

    def screen() -> str:
        return type(app.screen).__name__

    async with app.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: screen() == "UnlockScreen"
                    and getattr(app.screen.focused, "id", None) == "passphrase", "the sign-in screen")
        say("ok: sign-in screen (UnlockScreen), passphrase field focused")
        await pilot.press(*DEMO_PASSPHRASE, "enter")
        await until(pilot, lambda: screen() == "HomeScreen", "the clinic screen after the passphrase")
        say("ok: clinic screen (HomeScreen) after the demo passphrase")
        home_screen = app.screen
        assert isinstance(home_screen, HomeScreen)
        results = home_screen.query_one("#results", DataTable)
        title = home_screen.query_one("#results-title", Static)
        before = str(title.render())  # "Recent patients": the rows below are not a search's yet

        def found() -> bool:
            if home_screen.query_one("#search", Input).value != family or str(title.render()) == before:
                return False
            rows = [" ".join(map(str, results.get_row_at(i))) for i in range(results.row_count)]
            return bool(home_screen.shown) and any(family in row for row in rows)

        await pilot.press(*family)
        await until(pilot, found, f"a search for {family!r} returning that patient")
        say(f"ok: search for {family!r} returned {results.row_count} row(s)")


def main() -> int:
    work = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(tempfile.mkdtemp(prefix="fieldkit-smoke-"))
    home = work / "clinic"
    os.environ.pop("FIELDKIT_PASSPHRASE", None)  # the passphrase is typed, as a person would
    try:
        make_demo(home)
        asyncio.run(drive(home))
    except Exception as exc:  # noqa: BLE001 - any failure is the smoke test's answer, said in one line
        say(f"FAILED: {type(exc).__name__}: {exc}")
        return 1
    say("ok: clinic-screen smoke test passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
