"""An unlocked session for scripts, in the manner of ssh-agent: `fieldkit unlock --for 10m`.

Every command would otherwise derive the database key from a passphrase with Argon2id, which
costs seconds on a field laptop: a script of a hundred commands would take minutes. The agent is
one background process that holds the unwrapped key in memory and answers, on a socket in the
data directory, commands of the same system user: with the key and the user who unlocked, or (the
command line's agent, `fieldkit.cli.agent`) by running a short command itself, in a process whose
imports are already done. The socket is created mode 0600 and the agent checks each caller's uid
as well. It ends at its time limit, on `fieldkit lock`, when the laptop is revoked from its
network, or when the data directory goes away. Nothing of it is written to disk but the socket.

This module is the protocol and the serving loop; it imports nothing heavy at the top, because
the `fieldkit` command's front door (`fieldkit.launch`) asks through it before anything else.
"""

from __future__ import annotations

import json
import os
import socket
import struct
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fieldkit.errors import FieldkitError
from fieldkit.store.home import Home

if TYPE_CHECKING:
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


def ask(home: Home, request: dict[str, Any], timeout: float | None = 2.0) -> dict[str, Any] | None:
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


_held: tuple[Path, Unlocked] | None = None  # in the agent's own process: what it holds, for which home


def fetch(home: Home) -> Unlocked | None:
    """The key and user of the unlocked session on this data directory, if there is one."""
    if _held is not None and _held[0] == home.path:
        return _held[1]  # a command the agent runs itself: asking its own socket would wait forever
    from fieldkit.store.keystore import User

    answer = ask(home, {"op": "key"})
    if not answer or "key" not in answer:
        return None
    return Unlocked(User(**answer["user"]), bytes.fromhex(answer["key"]), float(answer["until"]))


def lock(home: Home) -> bool:
    """End the unlocked session; False if there was none."""
    return bool(ask(home, {"op": "lock"}))


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


Handler = Callable[[dict[str, Any]], "dict[str, Any] | None"]


def serve(home: Home, held: Unlocked, ready: Callable[[], None] = lambda: None, handle: Handler | None = None) -> None:
    """Answer callers until the session ends; `ready` is called once the socket listens. Requests
    other than for the key and to lock go to `handle`, whose answer is sent back."""
    global _held
    _held = home.path, held
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
                if not _answer(conn, home, held, handle):
                    return
    finally:
        server.close()
        path.unlink(missing_ok=True)


def _answer(conn: socket.socket, home: Home, held: Unlocked, handle: Handler | None) -> bool:
    """Answer one caller; False when it asked the agent to stop or the session has ended."""
    conn.settimeout(2.0)
    try:
        if not _same_user(conn):
            return True
        request = json.loads(conn.makefile("rb").readline() or b"{}")
        if request.get("op") == "lock":
            conn.sendall(b'{"locked": true}\n')
            return False
        if _ended(home, held):  # revoked since the last look: nothing more is done for anyone
            return False
        if request.get("op") == "key":
            answer: dict[str, Any] | None = {"user": vars(held.user), "key": held.key.hex(), "until": held.until}
        else:
            answer = handle(request) if handle else None
        if answer is not None:
            conn.settimeout(None)
            conn.sendall(json.dumps(answer).encode() + b"\n")
    except (OSError, ValueError):
        pass
    return True
