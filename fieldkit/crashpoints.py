"""Named places where a test may kill the process (security.md T1/T2): no-ops unless armed.

A test arms one point through the environment of the process it starts:
`FIELDKIT_CRASH_AT=sync.recv.after_apply` kills it the first time it gets there,
`FIELDKIT_CRASH_AT=sync.recv.after_apply:3` the third time. It dies by SIGKILL, as a pulled plug or
the OOM killer would stop it: no `finally`, no flush, no goodbye to the peer.

A leaf module: the store, sync and the hub call `crashpoint` without importing anything else.
"""

from __future__ import annotations

import os
import signal

POINTS = (
    # a write transaction of the clinic database: the journal, the fold and the audit row
    "store.write.before_commit",
    "store.write.after_commit",
    # a user's passphrase changed (the keystore re-wraps the database key)
    "keystore.passwd.before_commit",
    "keystore.passwd.after_commit",
    # a user added: her key slot, committed after her journalled grant
    "keystore.add_user.before_commit",
    "keystore.add_user.after_commit",
    # a laptop enrolled: the supervisor's side issues a certificate, the new laptop keeps it
    "enrol.issue.before_send",
    "enrol.join.before_store",
    "enrol.join.after_store",
    # a LAN session, on either side
    "sync.send.after_batch",
    "sync.recv.after_verify",
    "sync.recv.after_apply",
    # forwarding to the hub: the laptop's side, then the hub's
    "hub.push.after_ack",
    "hub.upload.before_store",
    "hub.upload.after_store",
    # the hub's SQLite store re-encrypted under a new key (`fieldkit hub key rotate`)
    "hub.rekey.after_export",
    "hub.rekey.after_replace",
)

_armed, _, _nth = os.environ.get("FIELDKIT_CRASH_AT", "").partition(":")
_left = int(_nth or 1)
if _armed and _armed not in POINTS:
    raise SystemExit(f"FIELDKIT_CRASH_AT names no crash point: {_armed!r}")


def crashpoint(name: str) -> None:
    """Die here if a test armed this point and this is the time it asked for."""
    global _left
    if name != _armed:
        return
    _left -= 1
    if _left == 0:
        os.kill(os.getpid(), signal.SIGKILL)
