"""`fieldkit unlock` and `fieldkit lock`: a script's commands skip the passphrase while the session
lasts, and only then; the key is handed to nobody else and not past the session's end."""

from __future__ import annotations

import json
import os
import shutil
import socket
import stat
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from fieldkit.store import agent
from fieldkit.store.home import Home
from fieldkit.store.session import add_user, create_clinic
from fieldkit.sync import membership
from fieldkit.sync.identity import new_device_key

PASSPHRASE = "field kit 2026"
CHEAP_KDF = {"memory_kib": 1024, "iterations": 1, "lanes": 1}


def fieldkit(home: Home, *args: str, passphrase: str | None = None) -> subprocess.CompletedProcess:
    """A command with no terminal: one that would ask for a passphrase fails at once instead."""
    env = {**os.environ, "FIELDKIT_HOME": str(home.path)}
    env.pop("FIELDKIT_PASSPHRASE", None)
    if passphrase:
        env["FIELDKIT_PASSPHRASE"] = passphrase
    return subprocess.run([sys.executable, "-m", "fieldkit", *args], capture_output=True, text=True, env=env,
                          stdin=subprocess.DEVNULL, timeout=60)


def gone(home: Home) -> None:
    """The agent has exited and taken its socket with it."""
    deadline = time.monotonic() + 10
    while (home.path / agent.SOCKET).exists():
        assert time.monotonic() < deadline, "the agent's socket is still there"
        time.sleep(0.05)


@pytest.fixture
def home(tmp_path):
    home = Home(tmp_path / "clinic")
    key, device = new_device_key()
    store, _ = create_clinic(home, supervisor="amina", passphrase=PASSPHRASE, device_id=device, device_key=key,
                             kdf=CHEAP_KDF)
    add_user(home, store, by="amina", by_passphrase=PASSPHRASE, name="hoa", role="clerk",
             passphrase="hoa's passphrase", kdf=CHEAP_KDF)
    store.close()
    yield home
    agent.lock(home)


def test_commands_skip_the_passphrase_until_lock(home):
    assert fieldkit(home, "patient", "search", "lan").returncode != 0  # no session: it would have to ask
    unlocked = fieldkit(home, "--user", "amina", "unlock", "--for", "10m", passphrase=PASSPHRASE)
    assert unlocked.returncode == 0 and "unlocked as amina until" in unlocked.stdout
    assert stat.S_IMODE(os.stat(home.path / agent.SOCKET).st_mode) == 0o600

    added = fieldkit(home, "patient", "add", "--given", "Lan", "--json")
    assert added.returncode == 0, added.stderr
    pid = json.loads(added.stdout)["id"]
    shown = json.loads(fieldkit(home, "patient", "show", pid, "--json").stdout)
    assert shown["given_name"] == "Lan"
    # Another user is not the one who unlocked: she is asked for her own passphrase.
    assert fieldkit(home, "--user", "hoa", "patient", "search", "lan").returncode != 0
    assert fieldkit(home, "--user", "hoa", "patient", "search", "lan", passphrase="hoa's passphrase").returncode == 0

    assert fieldkit(home, "lock").stdout.strip() == "locked"
    assert fieldkit(home, "patient", "search", "lan").returncode != 0
    gone(home)
    assert fieldkit(home, "lock").stdout.strip() == "there was no unlocked session"


def test_the_session_ends_at_its_time(home):
    assert fieldkit(home, "--user", "amina", "unlock", "--for", "2s", passphrase=PASSPHRASE).returncode == 0
    assert fieldkit(home, "patient", "search", "lan").returncode == 0
    time.sleep(2.5)
    assert agent.fetch(home) is None
    assert fieldkit(home, "patient", "search", "lan").returncode != 0


def test_the_session_ends_when_the_laptop_is_revoked(home, tmp_path):
    from fieldkit.store.session import unlock

    founder_home = Home(tmp_path / "base")
    key, device = new_device_key()
    founder, supervisor = create_clinic(founder_home, supervisor="binh", passphrase=PASSPHRASE, device_id=device,
                                        device_key=key, kdf=CHEAP_KDF)
    network = membership.create(founder, "Soc Trang mobile clinics")
    store, _ = unlock(home, "amina", PASSPHRASE)
    from fieldkit.sync import certs
    from fieldkit.sync.identity import public_key

    membership.join(store, network.network, certs.enrol(network.network_key, network.network,
                                                        public_key(membership.device_key(store))))
    assert fieldkit(home, "--user", "amina", "unlock", passphrase=PASSPHRASE).returncode == 0
    assert agent.fetch(home) is not None

    membership.revoke(founder, network, store.device_id, user=supervisor.id, reason="stolen")
    store.ingest(founder.entries_after(store.version_vector(), 10**6))  # the revocation reaches this laptop
    store.close()
    founder.close()
    assert agent.fetch(home) is None  # refused, and the agent goes
    gone(home)


def as_another_user(path: Path) -> str:
    """What system user `nobody` gets from the agent's socket: refused, silence, or the key."""
    child = os.fork()
    if child == 0:
        os.setuid(65534)
        try:
            with socket.socket(socket.AF_UNIX) as probe:
                probe.settimeout(5)
                probe.connect(str(path))
                probe.sendall(b'{"op": "key"}\n')
                os._exit(2 if b"key" in probe.recv(4096) else 1)
        except PermissionError:
            os._exit(0)
        except OSError:
            os._exit(1)
    _, status = os.waitpid(child, 0)
    return ["refused", "silence", "the key"][os.waitstatus_to_exitcode(status)]


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to act as another system user")
def test_another_system_user_cannot_reach_the_key(tmp_path):
    shared = Path(tempfile.mkdtemp(prefix="fieldkit-agent-"))  # a directory anyone may walk through
    try:
        shared.chmod(0o755)
        home = Home(shared / "clinic")
        key, device = new_device_key()
        create_clinic(home, supervisor="amina", passphrase=PASSPHRASE, device_id=device, device_key=key,
                      kdf=CHEAP_KDF)[0].close()
        home.path.chmod(0o755)
        assert fieldkit(home, "--user", "amina", "unlock", passphrase=PASSPHRASE).returncode == 0
        assert as_another_user(home.path / agent.SOCKET) == "refused"  # the socket is its owner's alone
        (home.path / agent.SOCKET).chmod(0o777)  # and were it not, the agent asks who is calling
        assert as_another_user(home.path / agent.SOCKET) == "silence"
        assert agent.fetch(home) is not None
    finally:
        if agent.lock(Home(shared / "clinic")):
            gone(Home(shared / "clinic"))
        shutil.rmtree(shared)


def test_a_stale_socket_is_no_session(home):
    with socket.socket(socket.AF_UNIX) as dead:
        dead.bind(str(home.path / agent.SOCKET))  # what a killed agent leaves behind
    assert agent.fetch(home) is None
    assert fieldkit(home, "--user", "amina", "unlock", passphrase=PASSPHRASE).returncode == 0
    assert agent.fetch(home) is not None


def test_short_commands_are_run_by_the_session_itself(home):
    """A handed-over command's own process loads neither click nor the store: it asks the session,
    which runs the command and sends back its output and exit status, as the command would."""
    assert fieldkit(home, "--user", "amina", "unlock", passphrase=PASSPHRASE).returncode == 0
    added = fieldkit(home, "patient", "add", "--given", "Lan", "--family", "Nguyen", "--json")
    assert added.returncode == 0 and json.loads(added.stdout)["id"]
    again = fieldkit(home, "patient", "add", "--given", "Lan", "--family", "Nguyen")
    assert again.returncode == 0 and again.stderr.startswith("warning: possible duplicate")
    missing = fieldkit(home, "patient", "show", "nobody")
    assert (missing.returncode, missing.stdout, missing.stderr) == (1, "", "error: no patient with id nobody\n")

    env = {**os.environ, "FIELDKIT_HOME": str(home.path)}
    env.pop("FIELDKIT_PASSPHRASE", None)
    traced = subprocess.run([sys.executable, "-X", "importtime", "-m", "fieldkit", "patient", "search", "nguyen"],
                            capture_output=True, text=True, env=env, stdin=subprocess.DEVNULL, timeout=60)
    assert traced.returncode == 0 and "Lan Nguyen" in traced.stdout
    loaded = {line.rsplit("|", 1)[-1].strip() for line in traced.stderr.splitlines() if line.startswith("import time")}
    assert not {"click", "sqlcipher3", "fieldkit.store.db"} & loaded, "the command ran in its own process"

    # Relative paths and the caller's settings are the caller's own.
    relative = subprocess.run([sys.executable, "-m", "fieldkit", "--home", home.path.name, "--user", "hoa", "patient",
                               "search", "lan"], capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=60,
                              cwd=home.path.parent, env={**env, "FIELDKIT_PASSPHRASE": "hoa's passphrase"})
    assert relative.returncode == 0 and relative.stdout.count("Lan Nguyen") == 2
    assert fieldkit(home, "--user", "hoa", "patient", "search", "lan").returncode != 0  # no passphrase, no session
