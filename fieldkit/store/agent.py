"""An unlocked session for scripts, in the manner of ssh-agent: `fieldkit unlock --for 10m`.

Every command would otherwise derive the database key from a passphrase with Argon2id, which
costs seconds on a field laptop: a script of a hundred commands would take minutes. The agent is
one background process that holds the unwrapped key in memory and hands it, with the user who
unlocked, to commands of the same system user that ask on a socket in the data directory. The
socket is created mode 0600 and the agent checks each caller's uid as well. It ends at its time
limit, on `fieldkit lock`, when the laptop is revoked from its network, or when the data
directory goes away. Nothing of it is written to disk but the socket.
"""

from __future__ import annotations

import json
import os
import socket
import struct
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from fieldkit.errors import FieldkitError
from fieldkit.store.home import Home
from fieldkit.store.keystore import User

SOCKET = "agent.sock"
LONGEST = 12 * 3600  # a working day; a longer session is a key left lying about
CHECK_EVERY = 5.0  # seconds between the agent's looks at its deadline and at revocation
_PATH_MAX = 100  # AF_UNIX paths are limited to about 108 bytes


@dataclass(frozen=True)
class Unlocked:
    user: User
    key: bytes
    until: float  # epoch seconds


def socket_path(home: Home) -> Path:
    path = home.path / SOCKET
    if len(os.fsencode(path)) > _PATH_MAX:
        raise FieldkitError(f"the data directory's path is too long for an unlocked session: {home.path}")
    return path


def _ask(home: Home, request: dict[str, object], timeout: float = 2.0) -> dict[str, object] | None:
    """The agent's answer, or None when no agent listens here."""
    path = home.path / SOCKET
    if not path.exists():
        return None
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
        conn.settimeout(timeout)
        try:
            conn.connect(str(path))
            conn.sendall(json.dumps(request).encode() + b"\n")
            answer = conn.makefile("rb").readline()
        except OSError:
            return None  # a socket left by an agent that was killed: nobody answers
    return json.loads(answer) if answer else None


def fetch(home: Home) -> Unlocked | None:
    """The key and user of the unlocked session on this data directory, if there is one."""
    answer = _ask(home, {"op": "key"})
    if not answer or "key" not in answer:
        return None
    user = answer["user"]
    assert isinstance(user, dict)
    return Unlocked(User(**user), bytes.fromhex(str(answer["key"])), float(answer["until"]))  # type: ignore[arg-type]


def lock(home: Home) -> bool:
    """End the unlocked session; False if there was none."""
    return bool(_ask(home, {"op": "lock"}))


def start(home: Home, user: User, key: bytes, seconds: float) -> float:
    """Start an agent holding `key` for `seconds` (replacing one already running); its deadline."""
    if not 0 < seconds <= LONGEST:
        raise FieldkitError(f"an unlocked session lasts from a second to {LONGEST // 3600} hours")
    socket_path(home)
    lock(home)
    until = time.time() + seconds
    # The key goes through a pipe, never the command line or the environment, which others can read.
    child = subprocess.Popen([sys.executable, "-m", "fieldkit.store.agent", str(home.path)],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                             start_new_session=True, close_fds=True)
    assert child.stdin is not None and child.stdout is not None
    child.stdin.write(json.dumps({"user": vars(user), "key": key.hex(), "until": until}).encode() + b"\n")
    child.stdin.close()
    ready = child.stdout.readline()
    child.stdout.close()
    if ready.strip() != b"ready":
        child.kill()
        raise FieldkitError(f"the unlocked session did not start: {ready.decode(errors='replace').strip() or 'no answer'}")
    return until


# -- the agent process ---------------------------------------------------------------------------


def _revoked(home: Home, key: bytes) -> bool:
    """Has this laptop been revoked from its network? (A failed look counts as not yet.)"""
    from fieldkit.store.connection import connect

    if not home.database.exists():
        return False
    try:
        conn = connect(home.database, key, reader=True)
    except Exception:  # noqa: BLE001 - the agent keeps running; the next look may succeed
        return False
    try:
        return bool(conn.execute("SELECT 1 FROM revocations WHERE device_id = "
                                 "(SELECT value FROM meta WHERE key = 'device_id')").fetchone())
    finally:
        conn.close()


def _same_user(conn: socket.socket) -> bool:
    credentials = conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    _pid, uid, _gid = struct.unpack("3i", credentials)
    return uid == os.getuid()


def _ended(home: Home, held: Unlocked) -> bool:
    return time.time() >= held.until or not home.keystore.exists() or _revoked(home, held.key)


def serve(home: Home, held: Unlocked, ready: Callable[[], None] = lambda: None) -> None:
    """Answer callers until the session ends; `ready` is called once the socket listens."""
    path = socket_path(home)
    path.unlink(missing_ok=True)
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    old_umask = os.umask(0o177)  # the socket is born 0600: no window in which others may connect
    try:
        server.bind(str(path))
    finally:
        os.umask(old_umask)
    server.listen(16)
    server.settimeout(CHECK_EVERY)
    ready()
    try:
        while not _ended(home, held):
            try:
                conn, _ = server.accept()
            except TimeoutError:
                continue
            with conn:
                if not _answer(conn, home, held):
                    return
    finally:
        server.close()
        path.unlink(missing_ok=True)


def _answer(conn: socket.socket, home: Home, held: Unlocked) -> bool:
    """Answer one caller; False when it asked the agent to stop or the session has ended."""
    conn.settimeout(2.0)
    try:
        if not _same_user(conn):
            return True
        request = json.loads(conn.makefile("rb").readline() or b"{}")
        if request.get("op") == "lock":
            conn.sendall(b'{"locked": true}\n')
            return False
        if request.get("op") == "key":
            if _ended(home, held):  # revoked since the last look: the key is not handed out again
                return False
            conn.sendall(json.dumps({"user": vars(held.user), "key": held.key.hex(), "until": held.until}).encode()
                         + b"\n")
    except (OSError, ValueError):
        pass
    return True


def main() -> None:
    home = Home(Path(sys.argv[1]))
    given = json.loads(sys.stdin.readline())
    held = Unlocked(User(**given["user"]), bytes.fromhex(given["key"]), float(given["until"]))
    sys.stdin.close()

    def ready() -> None:  # tell the starting command, then let go of its pipe
        sys.stdout.write("ready\n")
        sys.stdout.flush()
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())

    try:
        serve(home, held, ready)
    except Exception as exc:  # noqa: BLE001 - said to the starting command, if it still listens
        print(exc, flush=True)


if __name__ == "__main__":
    main()
