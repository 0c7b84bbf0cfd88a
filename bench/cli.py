"""A script of 100 `fieldkit` commands under an unlocked session, beside the same script deriving
the key in every command (issue 14), both in the same run.

    python bench/cli.py                   # 100 commands each way (about five minutes)
    python bench/cli.py --commands 20     # quick

Why: every command opens the clinic database with a key unwrapped from the user's passphrase by
Argon2id (256 MiB, 3 passes), which costs a second or more on a field laptop, so a script of a
hundred commands took minutes. `fieldkit unlock --for 10m` starts an agent that holds the key;
a short command then hands itself to the agent on a socket (fieldkit.launch), which runs it with
its imports already done and sends back the output. Target: < 20 s for 100 commands unlocked.

What: a clinic made by `fieldkit init` in a temporary FIELDKIT_HOME with the production KDF (a
cheap KDF would hide exactly the cost in question), a few demo patients registered, then one fixed
script of commands run as subprocesses, one after another, as a shell script would:

  40% patient search (a name or a phone suffix of a registered patient)
  30% patient show ID (audited, so a write)
  15% patient add (a new demo patient: name, sex, birth date, phone, locality)
  10% encounter add ID (a full set of vitals: NEWS2 and qSOFA are scored)
   5% db check (page integrity, every chain, the audit log, the fold)

the mix of a script that looks patients up, opens them and records a visit; the kinds are
interleaved in one seeded order, the same in both runs:

  derive each time   FIELDKIT_PASSPHRASE set, no agent: every command derives the key
  unlocked           after `fieldkit unlock --for 10m` (timed apart), FIELDKIT_PASSPHRASE unset;
                     `fieldkit lock` afterwards

A field install compiles bytecode at install time, while this machine sets PYTHONDONTWRITEBYTECODE:
so the fieldkit package is compiled first (`python -m compileall -q`, into its __pycache__
directories, which git ignores) and the variable is removed from the commands' environment;
otherwise each command would compile fieldkit's modules again. Also printed, as the floor a
command stands on: bare `python -c pass` and `fieldkit --help`.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from run import load_note  # noqa: E402 - bench/ is not a package

FIELDKIT = str(Path(sys.executable).with_name("fieldkit"))  # the console script, as installed
PASSPHRASE = "a long clinic passphrase 2026"
MIX = {"patient search": 40, "patient show": 30, "patient add": 15, "encounter add": 10, "db check": 5}
REGISTERED = 8  # patients registered before the script runs, for it to search, show and see
DAY = date(2026, 11, 22)


def say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


# -- the environment a field laptop's commands run in --------------------------------------------------

def environment(home: Path) -> dict[str, str]:
    """This process's environment for the commands: bytecode allowed, no fieldkit settings but the
    data directory, and this tree's fieldkit first (the one whose bench this is)."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE" and not k.startswith("FIELDKIT_")}
    env["FIELDKIT_HOME"] = str(home)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])])
    return env


def compile_bytecode(env: dict[str, str]) -> float:
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(ROOT / "fieldkit")], env=env, check=True)
    return time.perf_counter() - started


def fieldkit(env: dict[str, str], *args: str, passphrase: bool = False) -> str:
    """Run one command; its stdout. No terminal on stdin: a command that would prompt fails instead."""
    run_env = dict(env, FIELDKIT_PASSPHRASE=PASSPHRASE) if passphrase else env
    done = subprocess.run([FIELDKIT, *args], env=run_env, stdin=subprocess.DEVNULL, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"`fieldkit {' '.join(args)}` failed ({done.returncode}): {done.stderr.strip()}")
    return done.stdout


def median_ms(command: list[str], env: dict[str, str], times: int = 5) -> float:
    runs = []
    for _ in range(times):
        started = time.perf_counter()
        subprocess.run(command, env=env, check=True, capture_output=True)
        runs.append(time.perf_counter() - started)
    return statistics.median(runs) * 1e3


# -- the clinic and the script ------------------------------------------------------------------------

def demo_people(count: int, seed: int) -> list[list[str]]:
    """`patient add` options for `count` demo patients."""
    from fieldkit.records.demo import people

    out = []
    for person in people(count, seed=seed, today=DAY):
        p = person.patient
        options = ["--given", p.given_name, "--sex", p.sex]
        for flag, value in (("--family", p.family_name), ("--other", p.other_names), ("--phone", p.phone),
                            ("--locality", p.locality)):
            if value:
                options += [flag, value]
        if p.birth_date:
            options += ["--birth-date", p.birth_date.isoformat()]
        out.append(options)
    return out


def phone_suffix(phone: str) -> str:
    """The last digits of a phone as a clerk types them: six at least, not counting leading zeros."""
    digits = "".join(c for c in phone if c.isdigit())
    return next((digits[-n:] for n in range(6, 10) if len(digits[-n:].lstrip("0")) >= 6), "")


def value_of(options: list[str], flag: str) -> str:
    return options[options.index(flag) + 1] if flag in options else ""


def build_clinic(env: dict[str, str]) -> tuple[list[tuple[str, list[str]]], float]:
    """`fieldkit init` (production KDF), then REGISTERED patients; (id, add options) of each, and
    the seconds init took (one key wrapping: the cost every locked command pays again)."""
    started = time.perf_counter()
    fieldkit(env, "init", "--supervisor", "lead", passphrase=True)
    init_s = time.perf_counter() - started
    registered = []
    for options in demo_people(REGISTERED, seed=11):
        answer = json.loads(fieldkit(env, "patient", "add", *options, "--json", passphrase=True))
        registered.append((answer["id"], options))
    return registered, init_s


def kinds_in_order(count: int, rng: random.Random) -> list[str]:
    """`count` command kinds in MIX's shares (largest remainder), interleaved in a seeded order."""
    total = sum(MIX.values())
    exact = {kind: share * count / total for kind, share in MIX.items()}
    counts = {kind: int(value) for kind, value in exact.items()}
    for kind in sorted(exact, key=lambda k: exact[k] - counts[k], reverse=True)[:count - sum(counts.values())]:
        counts[kind] += 1
    kinds = [kind for kind, n in counts.items() for _ in range(n)]
    rng.shuffle(kinds)
    return kinds


def script(kinds: list[str], registered: list[tuple[str, list[str]]], new_people: list[list[str]],
           rng: random.Random) -> list[tuple[str, list[str]]]:
    """The commands, (kind, arguments), for one run; `new_people` are the patients it adds."""
    to_add = iter(new_people)
    commands = []
    for kind in kinds:
        pid, options = rng.choice(registered)
        if kind == "patient search":
            given = value_of(options, "--given")
            query = rng.choice([given, value_of(options, "--family") or given,
                                phone_suffix(value_of(options, "--phone")) or given])
            args = ["patient", "search", query]
        elif kind == "patient show":
            args = ["patient", "show", pid]
        elif kind == "patient add":
            args = ["patient", "add", *next(to_add)]
        elif kind == "encounter add":
            args = ["encounter", "add", pid, "--temp", "38.1", "--pulse", "104", "--rr", "22", "--sbp", "118",
                    "--dbp", "76", "--spo2", "95", "--avpu", "A", "--weight", "61", "--diagnosis", "J18.9:pneumonia"]
        else:
            args = ["db", "check"]
        commands.append((kind, args))
    return commands


def run_script(env: dict[str, str], commands: list[tuple[str, list[str]]], *, passphrase: bool) -> dict:
    """Run the commands one after another; total seconds and seconds per command by kind."""
    by_kind: dict[str, list[float]] = {}
    started = time.perf_counter()
    for i, (kind, args) in enumerate(commands, 1):
        t = time.perf_counter()
        fieldkit(env, *args, passphrase=passphrase)
        by_kind.setdefault(kind, []).append(time.perf_counter() - t)
        if i % 10 == 0:
            say(f"  {i}/{len(commands)} commands, {time.perf_counter() - started:.0f} s")
    return {"total": time.perf_counter() - started, "by_kind": by_kind}


# -- the report ---------------------------------------------------------------------------------------

def report(count: int, locked: dict, unlocked: dict, unlock_s: float, init_s: float, compile_s: float,
           floor: tuple[float, float], load: float) -> None:
    print(f"\n{count} fieldkit commands as subprocesses  ({os.cpu_count()} cores, Python {sys.version.split()[0]})")
    print(f"  {load_note(load)}")
    print(f"  bytecode: fieldkit compiled first (compileall, {compile_s:.1f} s) and PYTHONDONTWRITEBYTECODE removed "
          "from the commands' environment, as on a field install")
    print(f"  clinic: `fieldkit init` with the production KDF ({init_s:.1f} s), {REGISTERED} patients registered; "
          "mix: " + ", ".join(f"{share}% {kind}" for kind, share in MIX.items()))
    print(f"  floor: bare python {floor[0]:.0f} ms, `fieldkit --help` {floor[1]:.0f} ms (median of 5)\n")
    for label, run in (("derive each time (baseline)", locked), ("unlocked session", unlocked)):
        print(f"  {label:<30} {run['total']:6.1f} s total   {run['total'] / count * 1e3:6.0f} ms per command")
    print(f"  {'':<30} `fieldkit unlock --for 10m` itself: {unlock_s:.1f} s, once "
          f"(so {unlocked['total'] + unlock_s:.1f} s with it)   target < 20 s for 100 commands unlocked")
    print(f"\n  {'mean per command':<30} {'derive each time':>16} {'unlocked':>10}")
    for kind in MIX:
        if kind in locked["by_kind"]:
            times = locked["by_kind"][kind], unlocked["by_kind"][kind]
            print(f"  {kind + f' (x{len(times[0])})':<30} {statistics.mean(times[0]) * 1e3:13.0f} ms "
                  f"{statistics.mean(times[1]) * 1e3:7.0f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--commands", type=int, default=100, help="commands in the script")
    args = parser.parse_args()
    load = os.getloadavg()[0]
    rng = random.Random(14)
    with tempfile.TemporaryDirectory(dir=os.environ.get("BENCH_DIR")) as tmp:
        env = environment(Path(tmp) / "clinic")
        compile_s = compile_bytecode(env)
        floor = median_ms([sys.executable, "-c", "pass"], env), median_ms([FIELDKIT, "--help"], env)
        say("creating the clinic (production KDF) ...")
        registered, init_s = build_clinic(env)
        kinds = kinds_in_order(args.commands, rng)
        adds = kinds.count("patient add")
        new_people = demo_people(2 * adds, seed=12)  # each run adds patients of its own

        say("deriving the key in every command ...")
        fieldkit(env, "lock")  # no agent: every command derives
        locked = run_script(env, script(kinds, registered, new_people[:adds], random.Random(1)), passphrase=True)

        say("under an unlocked session ...")
        started = time.perf_counter()
        fieldkit(env, "unlock", "--for", "10m", passphrase=True)
        unlock_s = time.perf_counter() - started
        try:
            unlocked = run_script(env, script(kinds, registered, new_people[adds:], random.Random(1)),
                                  passphrase=False)
        finally:
            fieldkit(env, "lock")
    report(args.commands, locked, unlocked, unlock_s, init_s, compile_s, floor, load)


if __name__ == "__main__":
    main()
