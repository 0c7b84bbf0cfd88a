"""fieldkit clinic-screen benchmark: each figure printed beside a baseline measured in the same run.

    python bench/tui.py                        # 50,000 patients (seeding takes about a minute)
    python bench/tui.py --quick                # 5,000 patients
    python bench/tui.py --home DIR [--reuse]   # keep the seeded clinics in DIR and use them again

  start      `fieldkit demo` (its own code, in a fresh process) from command to a usable search
             screen, split into Python+imports, key derivation (production Argon2id) and screen
             ready; beside the same at 1,000 patients and bare `python -c pass`; median of 5
  search     keystroke to updated results, p50/p95/max, typing real demo names in four scripts one
             key at a time; beside the bare `Clinic.search` of the same texts
  follow-up  keys to record a follow-up encounter from the home screen, grouped by step

Clinics are seeded by `fieldkit demo --no-tui`, the very code `fieldkit demo` runs. Screens run
under Textual's headless `run_test`: frames are composed but never written to a terminal, and
every `pilot.press` waits for the app to go idle (two waits of at least 20 ms). Latencies are
timestamped by hooks inside the app, so that wait does not inflate them; it does inflate the
elapsed time of a scripted run.
"""

from __future__ import annotations

import time

STARTED = time.monotonic()  # first: a start-up child counts from here (see startup_child)

import asyncio  # noqa: E402
import json  # noqa: E402
import sys  # noqa: E402
from dataclasses import dataclass  # noqa: E402
from pathlib import Path  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SIZE = (120, 40)
BASELINE_PATIENTS = 1000
STARTS = 5
SEED = 2026  # `fieldkit demo`'s default, so the names below are in the clinic
VITALS = ("37.2", "88", "18", "124", "78", "97")  # temperature, pulse, RR, systolic, diastolic, SpO2
MISSES = ["xochitl", "bjørn", "ژینوس"]  # names no demo culture gives

from run import percentile  # noqa: E402 - bench/ is not a package

# -- watching the screen -----------------------------------------------------------------------

@dataclass(frozen=True)
class Shown:
    at: float
    query: str | None  # None: the recent-patients list
    ids: list[str]
    focused: bool  # the search box had focus


class Answer(list):
    query: str | None = None


class Probe:
    """When the home screen's table showed which answer, and when frames were composed.

    Wraps three methods in this process only: `Desk.search` tags its answer with the query, so
    `HomeScreen._show` can timestamp which text the table now answers, and `App._display` marks
    each frame composed (headless: composed, not written). Timestamps are `time.monotonic()`,
    one clock for every process on Linux, so a parent can compare them with its own.
    """

    def __init__(self) -> None:
        from textual.app import App

        from fieldkit.tui.desk import Desk
        from fieldkit.tui.home import HomeScreen

        self.shown: list[Shown] = []
        self.frames: list[float] = []
        search, show, display = Desk.search, HomeScreen._show, App._display

        async def tagged_search(desk, query, page=0):
            found = Answer(await search(desk, query, page))
            found.query = query
            return found

        def timed_show(screen, title, patients):
            show(screen, title, patients)
            self.shown.append(Shown(time.monotonic(), getattr(patients, "query", None), [p.id for p in patients],
                                    getattr(screen.focused, "id", None) == "search"))

        def timed_display(app, screen, renderable):
            display(app, screen, renderable)
            if renderable is not None:
                self.frames.append(time.monotonic())

        Desk.search, HomeScreen._show, App._display = tagged_search, timed_show, timed_display

    async def answer(self, query: str | None, after: float, seconds: float = 60) -> Shown:
        """The first table shown after `after` that answers `query`."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            found = next((s for s in self.shown if s.at >= after and s.query == query), None)
            if found:
                return found
            await asyncio.sleep(0.002)
        raise RuntimeError(f"the screen never answered {query!r}")

    async def frame(self, after: float) -> float:
        """When the first frame composed after `after` was."""
        await until(lambda: self.frames and self.frames[-1] >= after, poll=0.002)
        return next(t for t in self.frames if t >= after)


async def until(condition, seconds: float = 60, poll: float = 0.005) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise RuntimeError("the screen never got there")
        await asyncio.sleep(poll)


async def type_timed(pilot, probe: Probe, text: str) -> list[tuple[str, float, float]]:
    """Press each key of `text`; per key, (text so far, seconds to the table, to the next frame)."""
    box = pilot.app.screen.query_one("#search")
    timings = []
    for key in text:
        pressed = time.monotonic()
        await pilot.press(key)
        shown = await probe.answer(box.value, pressed)
        timings.append((box.value, shown.at - pressed, await probe.frame(shown.at) - pressed))
    return timings


async def clear_search(pilot, probe: Probe) -> None:
    box = pilot.app.screen.query_one("#search")
    if box.value:  # setting "" again changes nothing, so nothing would answer
        cleared = time.monotonic()
        box.value = ""
        await probe.answer(None, cleared)


def demo_names() -> dict[str, list[str]]:
    """Names of the first demo patients, two per script, as a clerk types them: given then family.

    Latin script in lower case; one Vietnamese name without tone marks, as from a keyboard with no
    Vietnamese layout. Patients come from the same generator and seed `fieldkit demo` uses.
    """
    from fieldkit.records.demo import CULTURES, _plain, people

    scripts = ["Arabic", "Persian", "Vietnamese", "French", "English"]
    found: dict[str, list[str]] = {script: [] for script in scripts}
    for person in people(300, seed=SEED):
        p = person.patient
        script = next((s for s, c in zip(scripts, CULTURES) if p.family_name in c.family), None)
        name = f"{p.given_name} {p.family_name}"
        if script and len(found[script]) < 2 and "\u200c" not in name:  # pilot has no key for a ZWNJ
            found[script].append(name if script in ("Arabic", "Persian") else name.lower())
    found["Vietnamese"][1] = _plain(found["Vietnamese"][1])
    found["Latin"] = found.pop("French") + found.pop("English")
    return found


# -- 1. start-up -------------------------------------------------------------------------------

def startup_child(home: str, query: str) -> None:
    """One headless `fieldkit demo`, through its own command; prints its timestamps as JSON.

    Everything `fieldkit demo` imports (lazily, inside the command) is imported first, so that
    "imports" is one span. `fieldkit.tui.app.run` is swapped for a headless run that waits for the
    search box to be focused with the recent patients listed, then types `query`.
    """
    import fieldkit.cli
    import fieldkit.records.demo
    import fieldkit.store.session
    import fieldkit.sync.identity
    import fieldkit.tui.app
    from fieldkit.store import keystore

    marks = {"started": STARTED, "imported": time.monotonic(), "kdf": 0.0}
    derive = keystore._derive

    def timed_derive(*args):
        begun = time.monotonic()
        try:
            return derive(*args)
        finally:
            marks["kdf"] += time.monotonic() - begun

    keystore._derive = timed_derive
    probe = Probe()

    async def drive(home, user, passphrase):
        app = fieldkit.tui.app.FieldkitApp(home, user=user, passphrase=passphrase)
        async with app.run_test(size=SIZE) as pilot:
            await until(lambda: any(s.query is None and s.focused for s in probe.shown))
            marks["ready"] = next(s.at for s in probe.shown if s.query is None and s.focused)
            await pilot.press(*query[:-1])
            pressed = time.monotonic()
            await pilot.press(query[-1])
            marks["first_search"] = (await probe.answer(query, pressed)).at - pressed

    fieldkit.tui.app.run = lambda home, user=None, passphrase=None: asyncio.run(drive(home, user, passphrase))
    fieldkit.cli.cli.main(["--home", home, "demo"], standalone_mode=False, prog_name="fieldkit")
    print(json.dumps(marks))


def startup(home: Path, query: str) -> dict:
    import subprocess

    runs = []
    for _ in range(STARTS):
        spawned = time.monotonic()
        out = subprocess.run([sys.executable, __file__, "--startup-child", str(home), query], check=True,
                             capture_output=True, text=True).stdout
        marks = json.loads(out.strip().splitlines()[-1])
        runs.append({"total": marks["ready"] - spawned, "imports": marks["imported"] - spawned,
                     "interpreter": marks["started"] - spawned,
                     "kdf": marks["kdf"], "screen": marks["ready"] - marks["imported"] - marks["kdf"],
                     "first_search": marks["first_search"]})
    return sorted(runs, key=lambda run: run["total"])[len(runs) // 2]  # the median run, so its parts add up


def bare_python() -> float:
    import statistics
    import subprocess

    runs = []
    for _ in range(STARTS):
        begun = time.monotonic()
        subprocess.run([sys.executable, "-c", "pass"], check=True)
        runs.append(time.monotonic() - begun)
    return statistics.median(runs)


# -- 2 and 3. on the home screen ---------------------------------------------------------------

async def screen_figures(home: Path) -> dict:
    from fieldkit.cli.context import DEMO_PASSPHRASE, DEMO_USER
    from fieldkit.store.home import Home
    from fieldkit.tui.app import FieldkitApp
    from fieldkit.tui.desk import PAGE

    probe = Probe()
    app = FieldkitApp(Home(home), user=DEMO_USER, passphrase=DEMO_PASSPHRASE)
    async with app.run_test(size=SIZE) as pilot:
        await until(lambda: any(s.query is None and s.focused for s in probe.shown))
        clinic = app.desk.clinic
        names = demo_names()
        first = await asyncio.to_thread(clinic.search, names["Arabic"][0])
        queries = {**names, "phone": [first[0].phone[-6:]], "miss": MISSES}
        texts = [q[:i] for group in queries.values() for q in group for i in range(1, len(q) + 1)]

        def bare_searches():  # off the event loop, as the screen's own searches are
            timed = {}
            for text in texts:
                begun = time.perf_counter()
                timed[text] = ([p.id for p in clinic.search(text, limit=PAGE)], time.perf_counter() - begun)
            return timed

        await asyncio.to_thread(bare_searches)  # warms the page cache for both sides
        keystrokes = []
        for query in (q for group in queries.values() for q in group):
            await clear_search(pilot, probe)
            keystrokes += await type_timed(pilot, probe, query)
        bare = await asyncio.to_thread(bare_searches)
        wrong = [text for text, *_ in keystrokes if next(s for s in reversed(probe.shown) if s.query == text).ids
                 != bare[text][0]]
        hits = {script: sum(bool(bare[q][0]) for q in group) for script, group in queries.items()}
        await clear_search(pilot, probe)
        follow_up = await record_follow_up(pilot, probe)
    return {"keystrokes": keystrokes, "bare": [seconds for _, seconds in bare.values()], "wrong": wrong,
            "queries": queries, "hits": hits, "follow_up": follow_up}


async def record_follow_up(pilot, probe: Probe) -> dict:
    """The common path for the first follow-up due on the home screen; every key counted."""
    from fieldkit.records.demo import _plain

    app = pilot.app
    today = await app.desk.today()
    patient_id = today.due[0]["patient_id"]
    record = await app.desk.patient(patient_id)
    before = len(record["encounters"])
    # The name as read off the "Follow-ups due" list, given name first; Latin without accents, lower case.
    words = [record[part] for part in ("given_name", "family_name", "other_names") if record.get(part)]
    typed = " ".join(words)
    typed = _plain(typed).lower() if _plain(typed).isascii() else typed
    steps: dict[str, list[str]] = {}
    begun = time.monotonic()

    async def press(step: str, *keys: str) -> None:
        steps.setdefault(step, []).extend("space" if key == " " else key for key in keys)
        await pilot.press(*keys)

    # Type until the patient tops the list, or pick the row if the whole name is not enough.
    box = app.screen.query_one("#search")
    for key in typed:
        pressed = time.monotonic()
        await press("find the patient", key)
        shown = await probe.answer(box.value, pressed)
        if shown.ids[:1] == [patient_id]:
            await press("open the chart", "enter")
            break
    else:
        if patient_id not in shown.ids:
            raise RuntimeError(f"typing {typed!r} never lists the patient")
        await press("open the chart", *["down"] * (shown.ids.index(patient_id) + 1), "enter")
    await until(lambda: type(app.screen).__name__ == "ChartScreen" and app.screen.record is not None)
    await press("new encounter", "f5")
    await until(lambda: type(app.screen).__name__ == "EncounterScreen"
                and "NEWS2" in str(app.screen.query_one("#scores").render()))  # the draft check is done
    for i, reading in enumerate(VITALS):
        await press("vitals", *reading, *(["tab"] if i < len(VITALS) - 1 else []))
    # AVPU is the field after SpO2: one tab onto it, one key.
    await press("consciousness: Alert", "tab", "a")
    await until(lambda: app.screen.query_one("#avpu").value.upper() == "A")
    await press("save", "f2")
    await until(lambda: type(app.screen).__name__ == "ChartScreen")
    elapsed = time.monotonic() - begun
    after = await app.desk.patient(patient_id)  # through the desk: off the loop
    newest = max(after["encounters"], key=lambda e: e["at"])
    vitals = newest.get("vitals", {})
    saved = (len(after["encounters"]) == before + 1 and vitals.get("avpu") == "A"
             and float(vitals.get("temperature_c")) == float(VITALS[0]) and int(vitals.get("spo2")) == int(VITALS[-1]))
    return {"steps": steps, "elapsed": elapsed, "saved": saved, "typed": typed}


# -- running -----------------------------------------------------------------------------------

def seed(base: Path, patients: int, reuse: bool) -> tuple[Path, float | None]:
    """A demo clinic of `patients` under `base`, seeded by `fieldkit demo --no-tui` itself."""
    import subprocess

    home = base / f"demo-{patients}"
    if home.exists():
        if reuse:
            return home, None
        sys.exit(f"{home} exists: pass --reuse to use it again, or remove it")
    begun = time.monotonic()
    subprocess.run([str(Path(sys.executable).with_name("fieldkit")), "--home", str(home), "demo", "--no-tui",
                    "--patients", str(patients)], check=True, capture_output=True)
    return home, time.monotonic() - begun


def ms(seconds: float) -> str:
    return f"{seconds * 1e3:.0f} ms"


def report(patients: int, seeded: float | None, start: dict, base: dict, python: float, screen: dict) -> None:
    import os

    import textual

    print(f"\nfieldkit clinic-screen benchmark  ({os.cpu_count()} cores, Python {sys.version.split()[0]}, "
          f"Textual {textual.__version__})")
    print("  Headless run_test: frames composed, never written to a terminal; timings are taken by hooks "
          "in the app, so pilot's idle waits (>= 40 ms a key) do not count, except in scripted elapsed time.\n")
    print(f"== {patients:,} patients " + (f"(seeded by `fieldkit demo --no-tui` in {seeded:.1f} s)" if seeded
                                          else "(reused clinic)"))

    def split(r):
        return f"{ms(r['total'])} = python+imports {ms(r['imports'])} (interpreter {ms(r['interpreter'])}) " \
               f"+ key derivation {ms(r['kdf'])} + screen ready {ms(r['screen'])}"
    print(f"  start        {'`fieldkit demo` to usable search':<34}{split(start)}   (target < 2 s; median of {STARTS})")
    print(f"               {f'the same at {BASELINE_PATIENTS:,} patients':<34}{split(base)}")
    print(f"               {'bare python -c pass':<34}{ms(python)}")
    print(f"               then a typed search answers {ms(start['first_search'])} after its last key "
          f"({ms(base['first_search'])} at {BASELINE_PATIENTS:,})")

    keys = screen["keystrokes"]
    table, frame = [k[1] for k in keys], [k[2] for k in keys]
    hits = ", ".join(f"{script} {n}/{len(screen['queries'][script])}" for script, n in screen["hits"].items())
    print(f"  search       key to frame with results p50 {ms(percentile(frame, 50))}   p95 {ms(percentile(frame, 95))}   "
          f"max {ms(max(frame))}   (target p95 < 100 ms; {len(keys)} keys, one at a time)")
    print(f"               of which to table filled  p50 {ms(percentile(table, 50))}   p95 {ms(percentile(table, 95))}   "
          f"max {ms(max(table))}")
    print(f"               bare Clinic.search        p50 {ms(percentile(screen['bare'], 50))}   "
          f"p95 {ms(percentile(screen['bare'], 95))}   max {ms(max(screen['bare']))}   (same texts, off the loop)")
    print(f"               whole queries found someone: {hits}; "
          + (f"SCREEN DIFFERED from Clinic.search for {screen['wrong']}" if screen["wrong"]
             else "the screen showed what Clinic.search returns for every key"))
    slowest = sorted(keys, key=lambda k: -k[2])[:3]
    print("               slowest: " + ", ".join(f"{text!r} {ms(frame)}" for text, _, frame in slowest))

    follow = screen["follow_up"]
    count = sum(len(keys) for keys in follow["steps"].values())
    readings, name = sum(map(len, VITALS)), len(follow["steps"]["find the patient"])
    print(f"  follow-up    {count} keys to record a follow-up encounter (target: under 15 keystroke-seconds): "
          f"{readings} are the readings themselves, {name} find the patient, {count - readings - name} move and "
          f"command")
    print(f"               scripted run {follow['elapsed']:.1f} s with pilot's waits; "
          + ("saved, and found on reopening the patient" if follow["saved"] else "NOT FOUND ON REOPENING"))
    for step, keys in follow["steps"].items():
        print(f"               {len(keys):>3}  {step}: {' '.join(keys)}")


def main() -> None:
    import argparse
    import tempfile

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, default=50_000)
    parser.add_argument("--quick", action="store_true", help="5,000 patients, for a fast check")
    parser.add_argument("--home", type=Path, help="keep the seeded clinics here (default: a temporary directory)")
    parser.add_argument("--reuse", action="store_true", help="use clinics already seeded under --home")
    args = parser.parse_args()
    patients = 5000 if args.quick else args.patients
    with tempfile.TemporaryDirectory() as tmp:
        base = args.home or Path(tmp)
        home, seeded = seed(base, patients, args.reuse)
        baseline_home, _ = seed(base, BASELINE_PATIENTS, args.reuse)
        first_query = demo_names()["Arabic"][0]
        start, base_start = startup(home, first_query), startup(baseline_home, first_query)
        python = bare_python()
        screen = asyncio.run(screen_figures(home))
    report(patients, seeded, start, base_start, python, screen)


if __name__ == "__main__":
    if sys.argv[1:2] == ["--startup-child"]:  # before argparse and the rest: they are not `fieldkit demo`'s
        startup_child(*sys.argv[2:4])
    else:
        main()
