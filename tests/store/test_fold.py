"""The fold is a deterministic function of the set of journal entries (DESIGN decisions 1, 2).

Histories are generated on three simulated laptops (real keyed SQLCipher files) with edits that
record the version their author saw, and partial syncs in between; then the entries are folded
again in other orders, twice over, and from scratch.
"""

from __future__ import annotations

import json
import random

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fieldkit.store.db import Change
from fieldkit.store.fold import field_versions
from fieldkit.store.holdback import Cutoffs

PATIENTS = ["p1", "p2", "p3"]
FIELDS = {"given_name": ["Amal", "Hoa", "Reza"], "locality": ["Idlib", "Huế", "Yazd"],
          "birth_date": ["1980-01-01", "1981-07-01", "1990-03-15"], "voided": [True, False]}

op = st.one_of(
    st.tuples(st.just("edit"), st.integers(0, 2), st.sampled_from(PATIENTS),
              st.sampled_from(sorted(FIELDS)), st.integers(0, 2)),
    st.tuples(st.just("encounter"), st.integers(0, 2), st.sampled_from(PATIENTS), st.integers(0, 10**6)),
    st.tuples(st.just("sync"), st.integers(0, 2), st.integers(0, 2)),
    # a laptop, a laptop's later entries up to a few more, or a user revoked (store/holdback.py)
    st.tuples(st.just("revoke"), st.integers(0, 2), st.integers(0, 2)),
    st.tuples(st.just("release"), st.integers(0, 2), st.integers(0, 2), st.integers(1, 4)),
    st.tuples(st.just("revoke user"), st.integers(0, 2), st.integers(0, 2)),
)


def sync(source, target) -> None:
    target.ingest(source.entries_after(target.version_vector(), limit=10**6))


def run_history(laptops, ops) -> None:
    for i, patient in enumerate(PATIENTS):  # each patient registered somewhere, then spread
        laptops[i % 3].append([Change("patient", patient, "create", {"fields": {"given_name": "X"}})], user="u")
    for step in ops:
        if step[0] == "edit":
            _, who, patient, name, choice = step
            laptop = laptops[who]
            base = laptop.read(lambda conn, patient=patient: field_versions(conn, patient))
            if not base:
                continue  # this laptop has not heard of the patient yet
            value = FIELDS[name][choice % len(FIELDS[name])]
            laptop.append([Change("patient", patient, "update",
                                  {"fields": {name: value}, "base": {name: base.get(name, "")}})], user=f"u{who}")
        elif step[0] == "encounter":
            _, who, patient, pulse = step
            laptops[who].append([Change("encounter", f"e{pulse}-{who}", "create",
                                        {"patient_id": patient, "vitals": {"pulse": pulse % 200}})], user="u")
        elif step[0] == "sync":
            sync(laptops[step[1]], laptops[step[2]])
        else:
            revoke(laptops, step)


def revoke(laptops, step) -> None:
    """What membership.revoke / release and session.revoke_user journal (the fold reads no signature)."""
    kind, who, target, *more = step
    laptop, device = laptops[who], laptops[target].device_id
    if kind == "revoke user":
        laptop.append([Change("user", f"u{target}", "revoke", {"cutoff": laptop.version_vector()})], user="u")
    elif target != who:
        cutoff = laptop.version_vector().get(device, 0)
        if kind == "release":
            cutoff = laptop.cutoffs().devices.get(device, cutoff) + more[0]
        laptop.append([Change("device", device, kind, {"cutoff": cutoff})], user="u")


def all_entries(laptops):
    return {e.hash: e for laptop in laptops for e in laptop.entries_after({}, limit=10**6)}


def interleave(entries, rng):
    """A random order of all entries that keeps each origin's sequence."""
    chains = {}
    for entry in sorted(entries, key=lambda e: (e.origin, e.seq)):
        chains.setdefault(entry.origin, []).append(entry)
    queues = [list(reversed(chain)) for chain in chains.values()]
    out = []
    while queues:
        queue = rng.choice(queues)
        out.append(queue.pop())
        if not queue:
            queues.remove(queue)
    return out


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ops=st.lists(op, max_size=25), seed=st.integers(0, 2**32))
def test_any_causal_order_folds_to_the_same_state(make_store, ops, seed):
    """Revocations and releases included: entries beyond a cut-off are held on every laptop, and
    only they, whether the revocation reached a laptop before them or after they were folded."""
    laptops = [make_store(device=n + 1) for n in range(3)]
    run_history(laptops, ops)
    for _ in range(2):  # two full rounds spread every entry everywhere
        for a in laptops:
            for b in laptops:
                if a is not b:
                    sync(a, b)
    hashes = {laptop.state_hash() for laptop in laptops}
    assert len(hashes) == 1, "laptops holding the same entries disagree"
    expected = hashes.pop()

    entries = all_entries(laptops)
    rng = random.Random(seed)
    replay = make_store()
    for entry in interleave(entries.values(), rng):
        replay.ingest([entry])
    assert replay.state_hash() == expected

    again = replay.ingest(interleave(entries.values(), rng))
    assert again.applied == 0 and again.already_held == len(entries)
    assert replay.state_hash() == expected, "applying entries twice changed the state"

    assert {e.hash for e in replay.entries_after({}, limit=10**6)} == set(entries), "an entry was dropped"
    replay.rebuild()
    assert replay.state_hash() == expected, "rebuild from the journal gave another state"

    cutoffs = Cutoffs.of(entries.values())
    held = {(e.origin, e.seq) for e in entries.values() if cutoffs.holds(e.origin, e.seq, e.author)}
    assert {(e.origin, e.seq) for e in replay.held()} == held
    folded_encounters = set(replay.read(lambda conn: [row[0] for row in conn.execute("SELECT id FROM encounters")]))
    assert folded_encounters == {e.entity_id for e in entries.values()
                                 if e.entity == "encounter" and (e.origin, e.seq) not in held}


def concurrent_edit(make_store, field, first, second):
    a, b = make_store(device=1), make_store(device=2)
    a.append([Change("patient", "p", "create", {"fields": {"given_name": "Mona", field: "seed"}})], user="ua")
    sync(a, b)
    base = a.read(lambda conn: field_versions(conn, "p"))[field]
    a.append([Change("patient", "p", "update", {"fields": {field: first}, "base": {field: base}})], user="ua")
    b.append([Change("patient", "p", "update", {"fields": {field: second}, "base": {field: base}})], user="ub")
    sync(a, b)
    sync(b, a)
    return a, b


def conflicts(store):
    return store.read(lambda conn: conn.execute("SELECT field, safety, candidates FROM conflicts").fetchall())


def test_concurrent_safety_edit_keeps_both_values_in_one_conflict_everywhere(make_store):
    a, b = concurrent_edit(make_store, "birth_date", "1980-01-01", "1985-06-30")
    assert a.state_hash() == b.state_hash()
    for store in (a, b):
        rows = conflicts(store)
        assert len(rows) == 1
        name, safety, candidates = rows[0]
        assert (name, safety) == ("birth_date", 1)
        assert {c["value"] for c in json.loads(candidates)} == {"1980-01-01", "1985-06-30"}
        assert {c["author"] for c in json.loads(candidates)} == {"ua", "ub"}


def test_concurrent_edit_of_other_field_is_recorded_but_not_for_review(make_store):
    a, _ = concurrent_edit(make_store, "locality", "Aleppo", "Homs")
    [(name, safety, _)] = conflicts(a)
    assert (name, safety) == ("locality", 0)


def test_sequential_edits_are_not_conflicts(make_store):
    a, b = make_store(device=1), make_store(device=2)
    a.append([Change("patient", "p", "create", {"fields": {"given_name": "Mona", "sex": "female"}})], user="ua")
    sync(a, b)
    base = b.read(lambda conn: field_versions(conn, "p"))["sex"]
    b.append([Change("patient", "p", "update", {"fields": {"sex": "male"}, "base": {"sex": base}})], user="ub")
    sync(b, a)
    base = a.read(lambda conn: field_versions(conn, "p"))["sex"]
    a.append([Change("patient", "p", "update", {"fields": {"sex": "female"}, "base": {"sex": base}})], user="ua")
    sync(a, b)
    assert conflicts(a) == conflicts(b) == []
    assert a.state_hash() == b.state_hash()


def test_concurrent_identical_values_are_not_conflicts(make_store):
    a, _ = concurrent_edit(make_store, "locality", "Homs", "Homs")
    assert conflicts(a) == []


def test_last_writer_wins_on_hlc_then_origin(make_store):
    a, b = concurrent_edit(make_store, "locality", "Aleppo", "Homs")
    winner = a.read(lambda conn: conn.execute("SELECT locality FROM patients").fetchone()[0])
    later = max(a.entries_after({}, 10**6) + b.entries_after({}, 10**6), key=lambda e: e.version)
    assert winner == later.payload["fields"]["locality"]
