"""Many processes on one data directory (issue 14): real `fieldkit` commands, a real `sync serve`
taking a peer's batches, the clinic screen's desk in a process of its own and `db check`, all at
once on one SQLCipher file; then SIGKILL at random moments. Whatever a process said it saved must
be in the journal, every chain and the audit chain must verify, and re-folding must give the same
state.

The processes, on the clinic laptop's data directory:
- save:  `fieldkit patient add … --json` and `fieldkit encounter add PATIENT --pulse 80 --json`, one
         after another; an id is acknowledged once a command printed it.
- serve: `fieldkit sync serve --host 127.0.0.1 --port 0`; a second laptop of the network (its own
         data directory, driven from this test process) registers patients and syncs to it over
         and over, so it ingests batches while the others write. A session that completed
         acknowledges every patient the peer had registered before it began.
- desk:  desk_worker.py: `Desk.open` in `asyncio.run`, then search, open (audited), register,
         draft, record, drop the draft; it prints what each awaited call acknowledged.
- check: `fieldkit db check --json`, one after another; every report must say ok.

The torture test runs them side by side for 30 s; the kill campaign SIGKILLs them on a seeded
schedule (FIELDKIT_KILL_SEED replays one) until 100 kills have landed. A third test holds a bug
found on the way: `db rebuild` beside a process that saves said STATE CHANGED, because it read the
state hash before and after the re-fold in transactions of their own.

Every process writes its stdout and stderr to files under the test's tmp_path/logs (named
KIND-NUMBER.out/.err), kept after a failure for reading.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import random
import resource
import signal
import subprocess
import sys
import threading
import time
import traceback
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from desk_worker import word
from sync_support import PASSPHRASE, Laptop, enrol, new_laptop

from fieldkit.errors import FieldkitError
from fieldkit.records.services import Clinic
from fieldkit.store.hlc import HybridClock, wall_ms
from fieldkit.store.home import Home
from fieldkit.store.session import unlock
from fieldkit.sync import membership
from fieldkit.sync.peer import sync_with

pytestmark = pytest.mark.slow

WORKER = Path(__file__).with_name("desk_worker.py")
TORTURE_SECONDS = 30.0
KILLS = 100  # kill points the campaign lands (SIGKILL while the process runs) before it stops
CAMPAIGN_LIMIT = 240.0  # seconds: it fails if the kills take longer (about 35 s on two idle cores)
# How long a process of each kind takes here (a command to finish; `sync serve` or the desk to say
# it is ready), until some have been seen: the schedule draws kill moments in proportion to it, so
# it keeps to the same mix of phases on a machine twice as busy. (Two cores shared by all of this:
# `sync serve` takes about 3 s to listen, the desk 1.5 s to open, a command 1 s.)
FIRST_GUESS = {"save": 1.3, "check": 1.0, "desk": 1.5, "serve": 3.0}
SPARE = {"save": 0.25, "check": 0.2}  # the share of commands let finish, to acknowledge something
STARTING = 0.4  # the share of lasting processes killed while starting, the rest while running
RUNNING = {"desk": 2.0, "serve": 2.5}  # ... at up to this many seconds after they said they were ready
READY = {"serve": "serving network", "desk": "ready "}  # the first line of a process that lasts
KINDS = ("save", "serve", "desk", "check")
PROBLEMS = ("Traceback", "internal error")
# The peer's wall clock runs this far ahead (well inside what sync accepts): once `sync serve` has
# folded its entries, every process must stamp after them, which only reading the stored clock
# inside each transaction gives (the clinic's own chain is checked to stamp ever later).
PEER_AHEAD_MS = 90_000


# -- the laptops -------------------------------------------------------------------------------------

@dataclass
class Site:
    home: Path  # the clinic laptop's data directory, shared by every process
    user: str
    device: str
    peer: Laptop  # the second laptop, open in this process
    logs: Path
    fleets: list["Fleet"] = field(default_factory=list)

    def env(self) -> dict[str, str]:
        environment = {**os.environ, "FIELDKIT_HOME": str(self.home), "FIELDKIT_PASSPHRASE": PASSPHRASE,
                       "FIELDKIT_USER": self.user}
        environment.pop("FIELDKIT_DEBUG", None)  # failures as users see them: one line, no traceback
        return environment


@pytest.fixture
def site(tmp_path):
    """A clinic (cheap key derivation: every process unlocks quickly) in a network, closed so that
    processes can open it, and a second laptop enrolled in the same network."""
    clinic = new_laptop(tmp_path, "clinic")
    clinic.member = membership.create(clinic.store, "Soc Trang mobile clinics")
    peer = enrol(new_laptop(tmp_path, "peer"), clinic)
    peer.store.clock = HybridClock(peer.store.clock.last, wall=lambda: wall_ms() + PEER_AHEAD_MS)
    user, device = clinic.user.name, clinic.device
    clinic.store.close()
    logs = tmp_path / "logs"
    logs.mkdir()
    site = Site(clinic.home.path, user, device, peer, logs)
    yield site
    for fleet in site.fleets:  # a test that failed half-way leaves nothing running
        fleet.stopping.set()
        fleet.peer.stop.set()
        for proc in fleet.procs():
            if proc.alive:
                proc.popen.kill()
                proc.popen.wait()
        if fleet.peer.is_alive():
            fleet.peer.join(timeout=60)
    peer.store.close()


def fieldkit(*args: str) -> list[str]:
    return [sys.executable, "-m", "fieldkit", *args]


# -- processes -----------------------------------------------------------------------------------------

class Proc:
    """One process, its output in files: a killed process's output is whatever it had written."""

    def __init__(self, kind: str, number: int, argv: list[str], env: dict[str, str], logs: Path) -> None:
        self.kind, self.number, self.argv = kind, number, argv
        self.label = f"{kind}-{number}"
        self.out, self.err = logs / f"{self.label}.out", logs / f"{self.label}.err"
        with open(self.out, "wb") as out, open(self.err, "wb") as err:
            self.popen = subprocess.Popen(argv, env=env, stdout=out, stderr=err, stdin=subprocess.DEVNULL)
        self.started = time.monotonic()
        self.ended: float | None = None  # monotonic, when its runner saw it end
        self.ready: float | None = None  # see poll_ready
        self.signalled: int | None = None  # the signal this test sent it, if any

    def text(self) -> str:
        return self.out.read_text(errors="replace")

    def lines(self) -> list[str]:
        """Complete lines only: a line cut off by SIGKILL acknowledges nothing."""
        return self.text().split("\n")[:-1]

    def stderr(self) -> str:
        return self.err.read_text(errors="replace")

    @property
    def alive(self) -> bool:
        return self.popen.poll() is None

    @property
    def killed(self) -> bool:
        """Ended by the SIGKILL this test sent (not one that arrived after it had exited)."""
        return self.signalled == signal.SIGKILL and self.popen.returncode == -signal.SIGKILL

    def ready_line(self) -> str | None:
        with open(self.out, "rb") as out:
            first, newline, _ = out.read(300).decode(errors="replace").partition("\n")
        return first if newline and first.startswith(READY[self.kind]) else None

    def poll_ready(self) -> float | None:
        """Seconds it took to say it was ready, as first seen by a caller polling; None so far."""
        if self.ready is None and self.ready_line() is not None:
            self.ready = time.monotonic() - self.started
        return self.ready

    def json(self) -> Any:
        """What a `--json` command printed, or None if it printed no whole document."""
        try:
            return json.loads(self.text())
        except ValueError:
            return None

    def describe(self) -> str:
        return (f"{self.label} ({' '.join(self.argv[-6:])}) exit {self.popen.returncode}\n"
                f"--- stdout (tail)\n{self.text()[-1500:]}\n--- stderr (tail)\n{self.stderr()[-3000:]}")


class Runner(threading.Thread):
    """One kind of process, started again as soon as the last one ended, until the fleet stops."""

    def __init__(self, fleet: "Fleet", kind: str, argv: Callable[[int], list[str]]) -> None:
        super().__init__(name=f"runner-{kind}", daemon=True)
        self.fleet, self.kind, self.argv = fleet, kind, argv
        self.lock = threading.Lock()
        self.procs: list[Proc] = []
        self.current: Proc | None = None
        self.lasting = kind in READY
        self.error: str | None = None

    def run(self) -> None:
        try:
            for number in itertools.count(1):
                with self.lock:
                    if self.fleet.stopping.is_set():
                        return
                    proc = self.current = Proc(self.kind, number, self.argv(number), self.fleet.env, self.fleet.logs)
                    self.procs.append(proc)
                proc.popen.wait()
                proc.ended = time.monotonic()
                self.fleet.ended(proc)
        except BaseException:
            self.error = traceback.format_exc()

    def signal(self, proc: Proc, number: int) -> bool:
        """Send `number` to `proc` if it is still the running one; True if it was sent."""
        with self.lock:
            if proc is not self.current or not proc.alive:
                return False
            proc.signalled = number
            proc.popen.send_signal(number)
            return True

    def port(self) -> int | None:
        """The port the running `sync serve` listens on, once it said so."""
        proc = self.current
        line = proc.ready_line() if proc is not None and proc.alive else None
        return int(line.rsplit(":", 1)[1]) if line else None

    def stop(self, wait_ready: float = 60.0) -> Proc | None:
        """No more processes; a lasting one is let finish starting, then stopped with SIGTERM."""
        with self.lock:
            self.fleet.stopping.set()
            proc = self.current
        if proc is None or not self.lasting:
            return proc
        deadline = time.monotonic() + wait_ready
        while proc.alive and proc.ready_line() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        with self.lock:
            if proc.alive:
                proc.signalled = signal.SIGTERM
                proc.popen.send_signal(signal.SIGTERM)
        return proc


class Peer(threading.Thread):
    """The second laptop: registers patients and syncs them to the running `sync serve`."""

    def __init__(self, fleet: "Fleet", laptop: Laptop, seed: Any) -> None:
        super().__init__(name="peer", daemon=True)
        self.fleet, self.laptop = fleet, laptop
        self.rng = random.Random(f"{seed}-peer")
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.registered: list[str] = []
        self.acknowledged = 0  # registered[:acknowledged] were sent in a session that completed
        self.sessions: list[Any] = []  # reports of the sessions that completed
        self.failures: list[str] = []  # one line each (FieldkitError: the serve process went away)
        self.unexpected: list[str] = []  # anything else, with its traceback

    def synced(self) -> list[str]:
        with self.lock:
            return self.registered[:self.acknowledged]

    def run(self) -> None:
        try:
            number = 0
            while not self.stop.is_set():
                for _ in range(self.rng.randint(1, 3)):
                    number += 1
                    given = f"Peer{word(number).capitalize()}"
                    registered = self.laptop.clinic.register({"given_name": given, "family_name": "Le"})
                    with self.lock:
                        self.registered.append(registered.patient_id)
                port = self.fleet.runners["serve"].port()
                if port is not None:
                    self.session(port)
                self.stop.wait(self.rng.uniform(0.1, 0.6))
        except BaseException:
            self.unexpected.append(traceback.format_exc())

    def session(self, port: int) -> bool:
        upto = len(self.registered)
        try:
            report = asyncio.run(sync_with(self.laptop.store, self.laptop.member, "127.0.0.1", port, timeout=30))
        except FieldkitError as exc:
            self.failures.append(f"{time.strftime('%H:%M:%S')} port {port}: {exc}")
            return False
        except Exception:
            self.unexpected.append(traceback.format_exc())
            return False
        with self.lock:
            self.acknowledged = upto
            self.sessions.append(report)
        return True


class Fleet:
    """The four kinds of process on the clinic's data directory, and the peer feeding `sync serve`."""

    def __init__(self, site: Site, seed: Any) -> None:
        self.site, self.env, self.logs = site, site.env(), site.logs
        self.stopping = threading.Event()
        self.rng = random.Random(f"{seed}-commands")
        self.saved_patients: list[str] = []  # acknowledged by a finished `patient add`
        self.usual = Usual()  # how long each kind of process takes here
        self.runners = {
            "save": Runner(self, "save", self.save_command),
            "serve": Runner(self, "serve", lambda n: fieldkit("sync", "serve", "--host", "127.0.0.1", "--port", "0")),
            "desk": Runner(self, "desk", lambda n: [sys.executable, str(WORKER), str(site.home), site.user,
                                                     f"{word(n)}"]),
            "check": Runner(self, "check", lambda n: fieldkit("db", "check", "--json")),
        }
        self.peer = Peer(self, site.peer, seed)
        site.fleets.append(self)

    def save_command(self, number: int) -> list[str]:
        known = self.saved_patients[-20:] + self.desk_patients()[-20:] + self.peer.synced()[-20:]
        if known and self.rng.random() < 0.35:
            # Often another process's patient, acknowledged moments ago: it must be there.
            return fieldkit("encounter", "add", self.rng.choice(known), "--pulse", "80", "--json")
        return fieldkit("patient", "add", "--given", f"Cli{word(number).capitalize()}", "--family", "Nguyen",
                        "--sex", self.rng.choice(["female", "male"]), "--json")

    def desk_patients(self) -> list[str]:
        proc = self.runners["desk"].current
        return [line.split()[1] for line in proc.lines() if line.startswith("patient ")] if proc else []

    def ended(self, proc: Proc) -> None:
        self.usual.learn(proc)
        if proc.kind == "save" and proc.argv[3] == "patient" and isinstance(answer := proc.json(), dict):
            self.saved_patients.append(answer["id"])

    def start(self) -> None:
        for runner in self.runners.values():
            runner.start()

    def wait_ready(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if all((p := self.runners[k].current) is not None and p.poll_ready() is not None for k in READY):
                return
            time.sleep(0.05)
        raise AssertionError("sync serve and the desk did not start:\n"
                             + "\n".join(r.current.describe() for k, r in self.runners.items() if k in READY
                                         and r.current))

    def stop(self) -> dict[str, Proc | None]:
        """The peer first (a session cut off by a stopping server is not what is tested), then
        everything else; returns the last process of each kind."""
        self.peer.stop.set()
        if self.peer.is_alive():
            self.peer.join(timeout=90)
        self.stopping.set()
        last = {kind: runner.stop() for kind, runner in self.runners.items()}
        for runner in self.runners.values():
            if runner.ident is not None:
                runner.join(timeout=120)
            assert not runner.is_alive(), f"{runner.kind} did not stop"
        return last

    def procs(self, kind: str | None = None) -> list[Proc]:
        return [p for k, r in self.runners.items() if kind in (None, k) for p in r.procs]


# -- what was acknowledged, and what the database holds ---------------------------------------------------

@dataclass
class Acknowledged:
    patients: dict[str, str]  # id -> the process that printed it
    encounters: dict[str, str]
    views: Counter  # patient id -> openings the desk saw return


def acknowledged(fleet: Fleet) -> Acknowledged:
    patients: dict[str, str] = {}
    encounters: dict[str, str] = {}
    views: Counter = Counter()
    for proc in fleet.procs("save"):
        answer = proc.json()
        if isinstance(answer, dict) and "id" in answer:
            (patients if proc.argv[3] == "patient" else encounters)[answer["id"]] = proc.label
    for proc in fleet.procs("desk"):
        for line in proc.lines():
            what, _, rest = line.partition(" ")
            if what == "patient":
                patients[rest] = proc.label
            elif what == "encounter":
                encounters[rest.split()[0]] = proc.label
            elif what == "viewed":
                views[rest] += 1
    for patient_id in fleet.peer.synced():
        patients[patient_id] = "peer"
    return Acknowledged(patients, encounters, views)


@dataclass
class Held:
    created: dict[str, set[str]]  # entity -> ids with a create entry in the journal
    patients: set[str]
    encounters: set[str]
    views: Counter
    own_entries: int
    backwards: list[tuple]  # (origin, seq) whose stamp does not follow its predecessor's


def held(site: Site) -> Held:
    """What the clinic's database holds, read from this process once every other one has ended."""
    store, _user = unlock(Home(site.home), site.user, PASSPHRASE)
    with store:
        def job(conn) -> Held:
            created: dict[str, set[str]] = {}
            for entity, entity_id in conn.execute("SELECT entity, entity_id FROM journal WHERE op = 'create'"):
                created.setdefault(entity, set()).add(entity_id)
            backwards, last = [], (None, 0)
            for origin, seq, hlc in conn.execute("SELECT origin, seq, hlc FROM journal ORDER BY origin, seq"):
                if origin == last[0] and hlc <= last[1]:
                    backwards.append((origin[:8], seq))
                last = (origin, hlc)
            return Held(
                created,
                {row[0] for row in conn.execute("SELECT id FROM patients")},
                {row[0] for row in conn.execute("SELECT id FROM encounters")},
                Counter(dict(conn.execute("SELECT entity_id, count(*) FROM audit WHERE action = 'view patient' "
                                          "GROUP BY entity_id").fetchall())),
                conn.execute("SELECT count(*) FROM journal WHERE origin = ?", (site.device,)).fetchone()[0],
                backwards)
        return store.read(job)


def assert_nothing_lost(site: Site, ack: Acknowledged, context: str = "") -> Held:
    db = held(site)
    lost = {i: who for i, who in ack.patients.items() if i not in db.created.get("patient", set())}
    assert not lost, f"{len(lost)} acknowledged patients are not in the journal: {lost}{context}"
    lost = {i: who for i, who in ack.patients.items() if i not in db.patients}
    assert not lost, f"{len(lost)} acknowledged patients are not in the patients table: {lost}{context}"
    lost = {i: who for i, who in ack.encounters.items() if i not in db.created.get("encounter", set())}
    assert not lost, f"{len(lost)} acknowledged encounters are not in the journal: {lost}{context}"
    lost = {i: who for i, who in ack.encounters.items() if i not in db.encounters}
    assert not lost, f"{len(lost)} acknowledged encounters are not in the encounters table: {lost}{context}"
    unaudited = {i: (n, db.views[i]) for i, n in ack.views.items() if db.views[i] < n}
    assert not unaudited, f"openings the desk saw return are missing from the audit log: {unaudited}{context}"
    assert not db.backwards, f"clock stamps that do not increase along a chain: {db.backwards[:10]}{context}"
    return db


def run_fieldkit(site: Site, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(fieldkit(*args), env=site.env(), capture_output=True, text=True, timeout=300)


def assert_checks_and_rebuilds(site: Site, context: str = "") -> dict[str, Any]:
    """`db check` ok, `db rebuild` gives the same state hash, and `db check` after it agrees."""
    checked = run_fieldkit(site, "db", "check", "--json")
    assert checked.returncode == 0, checked.stdout[-3000:] + checked.stderr[-3000:] + context
    before = json.loads(checked.stdout)
    assert before["ok"] and before["journal"] == "ok" and before["audit"] == "ok", before | {"context": context}
    rebuilt = run_fieldkit(site, "db", "rebuild", "--json")
    assert rebuilt.returncode == 0, rebuilt.stdout[-3000:] + rebuilt.stderr[-3000:] + context
    report = json.loads(rebuilt.stdout)
    assert report["same"] and report["state_before"] == report["state_after"] == before["state_hash"], \
        f"{report}{context}"
    after = json.loads(run_fieldkit(site, "db", "check", "--json").stdout)
    assert after["ok"] and after["state_hash"] == before["state_hash"], f"{after}{context}"
    return before


def assert_no_problems_printed(fleet: Fleet, context: str = "") -> None:
    for proc in fleet.procs():
        err = proc.stderr()
        assert not any(p in err for p in PROBLEMS), proc.describe() + context
    for runner in fleet.runners.values():
        assert runner.error is None, runner.error
    assert not fleet.peer.unexpected, "\n".join(fleet.peer.unexpected) + context


def assert_checks_said_ok(fleet: Fleet, context: str = "") -> int:
    """Every `db check` that was not killed exited 0 with an ok report; how many there were."""
    finished = [p for p in fleet.procs("check") if not p.killed]
    for proc in finished:
        report = proc.json()
        assert proc.popen.returncode == 0 and isinstance(report, dict) and report["ok"], proc.describe() + context
    return len(finished)


def assert_saves_succeeded(fleet: Fleet, context: str = "") -> None:
    """Every save that was not killed exited 0 and printed its id (the busy timeout never ran out,
    no patient acknowledged by another process was missing)."""
    for proc in fleet.procs("save"):
        if not proc.killed:
            answer = proc.json()
            assert proc.popen.returncode == 0 and isinstance(answer, dict) and answer.get("id"), \
                proc.describe() + context


# -- the torture test ----------------------------------------------------------------------------------------

def test_four_kinds_of_process_on_one_data_directory(site):
    fleet = Fleet(site, seed="torture")
    started = time.monotonic()
    fleet.start()
    try:
        fleet.wait_ready()
        fleet.peer.start()
        time.sleep(max(0.0, TORTURE_SECONDS - (time.monotonic() - started)))
    finally:
        last = fleet.stop()
    elapsed = time.monotonic() - started

    # Nothing went wrong in any process while they ran.
    assert_no_problems_printed(fleet)
    serve, desk = last["serve"], last["desk"]
    assert len(fleet.procs("serve")) == 1 and serve.popen.returncode == 0, serve.describe()  # SIGTERM: a clean stop
    assert len(fleet.procs("desk")) == 1 and desk.popen.returncode == 0, desk.describe()
    assert desk.lines()[-1] == "stopped", desk.describe()
    assert not [line for line in serve.lines() if "error" in line], serve.describe()

    # Everything any process acknowledged is in the journal and the tables.
    ack = acknowledged(fleet)
    db = assert_nothing_lost(site, ack)
    assert_saves_succeeded(fleet)
    checks = assert_checks_said_ok(fleet)
    assert not fleet.peer.failures, fleet.peer.failures
    before = assert_checks_and_rebuilds(site)

    # The peer's batches arrived, through the serve process, while the others wrote.
    synced = fleet.peer.synced()
    assert len(fleet.peer.sessions) >= 3 and len(synced) >= 3, (len(fleet.peer.sessions), len(synced))
    assert sum(report.sent for report in fleet.peer.sessions) >= len(synced)
    assert before["origins"] == 2
    # The desk heard, through PRAGMA data_version, that the serve process had folded the peer's entries.
    heard = {origin for line in desk.lines() if line.startswith("heard ") for origin in line[6:].split(",")}
    assert site.peer.device in heard, f"the desk never heard of the peer's entries: {sorted(heard)}"

    # It was busy: every kind of process really wrote, in numbers.
    saves = [p for p in fleet.procs("save") if p.json()]
    desk_saves = sum(1 for line in desk.lines() if line.startswith(("patient ", "encounter ")))
    assert len(saves) >= 5 and desk_saves >= 10 and checks >= 3, (len(saves), desk_saves, checks)
    assert db.own_entries >= len(saves) + desk_saves
    print(f"\n{elapsed:.1f} s: {len(saves)} command-line saves, {desk_saves} desk saves, "
          f"{sum(ack.views.values())} desk openings, {len(fleet.peer.sessions)} peer sessions "
          f"({len(synced)} peer patients), {checks} db checks; {before['journal_entries']} entries, "
          f"{before['audit_rows']} audit rows")


# -- the kill campaign ---------------------------------------------------------------------------------------

@dataclass
class KillPoint:
    at: float  # seconds into the campaign
    proc: Proc
    age: float  # seconds since the process started
    phase: str  # start-up (no first line yet) / running; for a command: before / after its answer

    @property
    def landed(self) -> bool:
        return self.proc.killed  # it was still running when SIGKILL came

    def __str__(self) -> str:
        return f"{self.at:6.2f}s {self.proc.label:<10} at age {self.age:.2f}s ({self.phase})"


def cpu_seconds() -> tuple[float, float]:
    """CPU time used so far by this process, and by the processes it has waited for."""
    me, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime, children.ru_utime + children.ru_stime


class Usual:
    """How long a process of each kind takes here: the median of the last few seen, or a guess."""

    def __init__(self) -> None:
        self.seen: dict[str, list[float]] = {kind: [] for kind in KINDS}
        self.lock = threading.Lock()

    def saw(self, kind: str, seconds: float) -> None:
        with self.lock:
            self.seen[kind] = (self.seen[kind] + [seconds])[-15:]

    def __call__(self, kind: str) -> float:
        with self.lock:
            seen = sorted(self.seen[kind])
        return seen[len(seen) // 2] if seen else FIRST_GUESS[kind]

    def learn(self, proc: Proc) -> None:
        """From a command that finished by itself, or a lasting process that said it was ready."""
        if proc.kind in READY:
            if proc.ready is not None:
                self.saw(proc.kind, proc.ready)
        elif proc.popen.returncode == 0 and proc.signalled is None:
            self.saw(proc.kind, proc.ended - proc.started)


def campaign(fleet: Fleet, seed: int, deadline: float) -> list[KillPoint]:
    """One seeded schedule per kind of process, side by side, each drawing for every process of
    its kind whether and when it is SIGKILLed; its runner starts the next one at once.

    A command (save, check) is spared now and then (SPARE), else killed at an age up to 1.1 times
    the usual duration of its kind here: mostly while starting or saving, before it answers.
    A lasting process (serve, desk) is killed while starting (STARTING: at an age up to its usual
    start-up), or once it said it is ready, within RUNNING seconds: while it serves the peer or
    saves. Stops once KILLS kills landed (the process was still running when SIGKILL came), or at
    `deadline`; returns every SIGKILL sent."""
    points: list[KillPoint] = []
    lock = threading.Lock()
    done = threading.Event()
    usual = fleet.usual
    start = time.monotonic()

    def schedule(kind: str) -> None:
        rng = random.Random(f"{seed}-{kind}")
        runner = fleet.runners[kind]
        last: Proc | None = None
        while not done.is_set():
            proc = runner.current
            if proc is None or proc is last or not proc.alive:
                time.sleep(0.01)
                continue
            last = proc
            if kind in READY:
                starting, fraction = rng.random() < STARTING, rng.random()
                age = fraction * usual(kind) if starting else None
            else:
                if rng.random() < SPARE[kind]:
                    continue
                age = rng.random() * 1.1 * usual(kind)
            while not done.is_set() and proc.alive:
                if kind in READY and proc.poll_ready() is not None and age is None:
                    age = proc.ready + fraction * RUNNING[kind]
                if age is not None and time.monotonic() >= proc.started + age:
                    break
                time.sleep(0.01)
            if done.is_set():
                return
            if kind in READY:
                phase = "running" if proc.poll_ready() is not None else "start-up"
            else:
                phase = "after its answer" if proc.out.stat().st_size else "before its answer"
            if runner.signal(proc, signal.SIGKILL):
                with lock:
                    points.append(KillPoint(time.monotonic() - start, proc, time.monotonic() - proc.started, phase))

    threads = [threading.Thread(target=schedule, args=(kind,), daemon=True) for kind in KINDS]
    for thread in threads:
        thread.start()
    while time.monotonic() < deadline:
        with lock:
            if sum(1 for point in points if point.landed) >= KILLS:
                break
        time.sleep(0.05)
    done.set()
    for thread in threads:
        thread.join()
    return points


def test_kill_campaign_loses_nothing_acknowledged(site):
    seed = int(os.environ.get("FIELDKIT_KILL_SEED") or random.SystemRandom().randrange(2**32))
    print(f"\nkill campaign seed {seed} (FIELDKIT_KILL_SEED={seed} replays its schedule)")
    fleet = Fleet(site, seed=seed)
    started, cpu = time.monotonic(), cpu_seconds()
    fleet.start()
    points: list[KillPoint] = []
    try:
        fleet.wait_ready()
        fleet.peer.start()
        points = campaign(fleet, seed, deadline=time.monotonic() + CAMPAIGN_LIMIT)
        killed_at = time.monotonic()
        # After the last kill the fleet runs on, undisturbed, until the peer completes a session
        # with the last `sync serve`: a database that took every kill still syncs.
        sessions = len(fleet.peer.sessions)
        deadline = time.monotonic() + 60
        while len(fleet.peer.sessions) <= sessions and time.monotonic() < deadline and fleet.peer.is_alive():
            time.sleep(0.1)
        calm = len(fleet.peer.sessions) > sessions
    finally:
        last = fleet.stop()
    elapsed = time.monotonic() - started
    sent, points = len(points), [point for point in points if point.landed]
    by_kind = Counter(point.proc.kind for point in points)
    context = (f"\nseed {seed}; {len(points)} kill points ({dict(by_kind)}; {sent - len(points)} more SIGKILLs "
               f"came after the process had exited):\n"
               + "\n".join(str(point) for point in points))
    print(context)
    used = [now - then for now, then in zip(cpu_seconds(), cpu)]
    print(f"campaign {killed_at - started:.1f} s, all {elapsed:.1f} s; peer: {len(fleet.peer.sessions)} sessions, "
          f"{len(fleet.peer.failures)} cut off or refused; cpu: this process {used[0]:.1f} s, "
          f"the others {used[1]:.1f} s")
    for failure in fleet.peer.failures:
        print(f"  peer session failed: {failure}")

    assert len(points) >= KILLS, f"only {len(points)} kill points landed{context}"
    # Every kind was killed, a serve and a desk while running (the first ones are, once ready), and
    # some process while it was still starting.
    phases = {(point.proc.kind, point.phase) for point in points}
    assert {("serve", "running"), ("desk", "running"), ("save", "before its answer"),
            ("check", "before its answer")} <= phases, context
    assert {("serve", "start-up"), ("desk", "start-up")} & phases, context

    # No process printed a traceback; a serve or desk ended only by a kill, the last ones (never
    # killed) cleanly on SIGTERM.
    assert_no_problems_printed(fleet, context)
    for kind in READY:
        assert last[kind].popen.returncode == 0, last[kind].describe() + context
        for proc in fleet.procs(kind):
            assert proc.killed or proc is last[kind], proc.describe() + context

    # Nothing acknowledged before a kill is lost; the database opens, checks and re-folds the same.
    ack = acknowledged(fleet)
    assert_nothing_lost(site, ack, context)
    assert_saves_succeeded(fleet, context)
    checks = assert_checks_said_ok(fleet, context)
    report = assert_checks_and_rebuilds(site, context)
    assert calm, f"the peer could not sync with the last sync serve: {fleet.peer.failures[-5:]}{context}"
    assert len(fleet.peer.synced()) >= 1 and report["origins"] == 2, context
    print(f"acknowledged: {len(ack.patients)} patients, {len(ack.encounters)} encounters, "
          f"{sum(ack.views.values())} openings; {checks} db checks finished; "
          f"{report['journal_entries']} entries, {report['audit_rows']} audit rows")


# -- db rebuild beside a writer ---------------------------------------------------------------------------------

def test_db_rebuild_beside_a_writing_process_reports_the_same_state(site):
    """`db rebuild` while another process saves: the state before and after the re-fold are one
    state, so it must say `same` (and `db check` after it agrees)."""
    stop = threading.Event()
    wrote: list[str] = []
    failed: list[str] = []

    def writer() -> None:  # the clinic screen or a command in another shell, saving all the while
        try:
            store, user = unlock(Home(site.home), site.user, PASSPHRASE)
            with store:
                clinic = Clinic(store, user)
                while not stop.is_set():
                    wrote.append(clinic.register({"given_name": f"Busy{word(len(wrote)).capitalize()}"}).patient_id)
        except BaseException:
            failed.append(traceback.format_exc())

    thread = threading.Thread(target=writer, daemon=True)
    thread.start()
    try:
        while len(wrote) < 20 and thread.is_alive():
            time.sleep(0.01)
        rebuilds = [run_fieldkit(site, "db", "rebuild", "--json") for _ in range(5)]
    finally:
        stop.set()
        thread.join(timeout=60)
    assert not failed, failed[0]
    assert len(wrote) > 20
    for rebuilt in rebuilds:
        assert rebuilt.returncode == 0 and json.loads(rebuilt.stdout)["same"], rebuilt.stdout + rebuilt.stderr
    assert_checks_and_rebuilds(site)
