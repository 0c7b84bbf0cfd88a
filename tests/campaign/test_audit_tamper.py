"""T20: whoever holds the key and edits the audit log behind fieldkit's back (triggers dropped, a
field changed, a row deleted, the tail cut off, a row re-hashed on its own) is noticed every time."""

from __future__ import annotations

import random

from campaign_support import record, scaled

from fieldkit.store import audit
from fieldkit.store.db import Change

COLUMNS = ["at", "user", "action", "entity_id", "detail", "prev", "hash"]


def tamper(conn, rng: random.Random, rows: int) -> str:
    """One seeded edit of the log; returns what was done."""
    conn.execute("DROP TRIGGER IF EXISTS audit_no_update")
    conn.execute("DROP TRIGGER IF EXISTS audit_no_delete")
    seq = rng.randint(1, rows)
    kind = rng.choice(["field", "delete", "truncate", "rehash"])
    if kind == "field":
        column = rng.choice(COLUMNS)
        conn.execute(f"UPDATE audit SET {column} = {column} || 'x' WHERE seq = ?", (seq,))
    elif kind == "delete":
        conn.execute("DELETE FROM audit WHERE seq = ?", (seq,))
    elif kind == "truncate":
        conn.execute("DELETE FROM audit WHERE seq >= ?", (seq,))
    else:  # the row's hash made to match its edit: the next row's link, or the head in meta, breaks
        at, user, action, entity_id, detail, prev = conn.execute(
            "SELECT at, user, action, entity_id, detail, prev FROM audit WHERE seq = ?", (seq,)).fetchone()
        action += " (edited)"
        conn.execute("UPDATE audit SET action = ?, hash = ? WHERE seq = ?",
                     (action, audit._digest(seq, at, user, action, entity_id, detail, prev), seq))
    return f"{kind} #{seq}"


def test_every_edit_of_the_audit_log_is_noticed(make_store, tmp_path_factory):
    tries = scaled(200, 1000)
    undetected = []
    for attempt in range(tries):
        store = make_store()
        store.append([Change("patient", f"p{n}", "create", {"fields": {"given_name": "Lan"}}) for n in range(3)],
                     user="u")
        for n in range(8):
            store.write(lambda tx, n=n: tx.audit("u", "view patient", f"p{n % 3}"))
        rows = store.read(lambda conn: conn.execute("SELECT count(*) FROM audit").fetchone()[0])
        assert store.verify_audit().ok
        done = store.write(lambda tx, a=attempt, r=rows: tamper(tx.conn, random.Random(a), r))
        if store.verify_audit().ok:
            undetected.append(done)
        store.close()
    assert undetected == []
    record(tmp_path_factory, "T20 audit log edited behind fieldkit's back", kills=0, lost=len(undetected),
           edits=tries)
