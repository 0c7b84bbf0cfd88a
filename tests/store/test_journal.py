"""Receiving entries: verified against their hashes and our chains, or refused whole."""

from __future__ import annotations

import dataclasses
import itertools

import pytest

from fieldkit.errors import ChainError
from fieldkit.store.db import Change
from fieldkit.store.hlc import MAX_DRIFT_MS, HybridClock, millis, pack
from fieldkit.store.journal import Entry, compute_hash


def history(store, n=3):
    for i in range(n):
        store.append([Change("patient", f"p{i}", "create", {"fields": {"given_name": f"N{i}"}})], user="u")
    return store.entries_after({}, limit=100)


def test_entries_chain_and_hash(make_store):
    entries = history(make_store())
    assert [e.seq for e in entries] == [1, 2, 3]
    assert all(b.prev == a.hash for a, b in itertools.pairwise(entries))


@pytest.mark.parametrize("field,value", [("data", '{"fields":{"given_name":"Evil"}}'), ("hlc", 1),
                                         ("entity_id", "other"), ("author", "mallory")])
def test_tampered_entry_is_refused_and_nothing_changes(make_store, field, value):
    entries = history(make_store())
    receiver = make_store()
    before = receiver.state_hash()
    tampered = dataclasses.replace(entries[1], **{field: value})
    with pytest.raises(ChainError, match="does not match its hash"):
        receiver.ingest([entries[0], tampered, entries[2]])
    assert receiver.state_hash() == before and receiver.version_vector() == {}


def test_gap_is_refused(make_store):
    entries = history(make_store())
    receiver = make_store()
    with pytest.raises(ChainError, match="skip from #0 to #2"):
        receiver.ingest(entries[1:])
    assert receiver.version_vector() == {}


def test_broken_link_is_refused_even_with_a_valid_hash(make_store):
    entries = history(make_store())
    forged = dataclasses.replace(entries[1], prev="f" * 64)
    forged = dataclasses.replace(forged, hash=compute_hash(*dataclasses.astuple(forged)[:9], forged.data))
    receiver = make_store()
    with pytest.raises(ChainError, match="broken hash chain"):
        receiver.ingest([entries[0], forged])
    assert receiver.version_vector() == {}


def test_replay_is_harmless(make_store):
    entries = history(make_store())
    receiver = make_store()
    assert receiver.ingest(entries).applied == 3
    state = receiver.state_hash()
    result = receiver.ingest(entries)
    assert (result.applied, result.already_held) == (0, 3)
    assert receiver.state_hash() == state


def test_two_histories_for_one_seq_are_refused(make_store):
    entries = history(make_store())
    receiver = make_store()
    receiver.ingest(entries)
    other = dataclasses.replace(entries[2], data='{"fields":{"given_name":"Clone"}}')
    other = dataclasses.replace(other, hash=compute_hash(*dataclasses.astuple(other)[:9], other.data))
    with pytest.raises(ChainError, match="two histories"):
        receiver.ingest([other])


def test_malformed_wire_entry_is_refused():
    with pytest.raises(ChainError, match="missing"):
        Entry.from_wire({"origin": "x"})
    good = {"origin": "a", "seq": 1, "hlc": 1, "entity": "patient", "entity_id": "p", "op": "create",
            "author": "u", "schema": 1, "prev": "0" * 64, "hash": "h", "data": "{}"}
    assert Entry.from_wire(good).seq == 1
    with pytest.raises(ChainError, match="seq must be int"):
        Entry.from_wire(good | {"seq": "1"})


def test_unknown_newer_schema_is_kept_and_relayed_but_not_folded(make_store):
    sender = make_store()
    [entry] = sender.append([Change("patient", "p", "create", {"fields": {"given_name": "A"}})], user="u")
    future = dataclasses.replace(entry, schema=99, entity="telepathy")
    future = dataclasses.replace(future, hash=compute_hash(*dataclasses.astuple(future)[:9], future.data))
    receiver, relay_target = make_store(), make_store()
    empty = receiver.state_hash()
    receiver.ingest([future])
    assert receiver.state_hash() == empty
    relay_target.ingest(receiver.entries_after({}))
    assert relay_target.entries_after({}) == [future]


class FakeWall:
    def __init__(self, ms):
        self.ms = ms

    def __call__(self):
        return self.ms


def test_hlc_is_monotonic_when_the_wall_clock_stands_still_or_goes_back():
    wall = FakeWall(1_000_000)
    clock = HybridClock(wall=wall)
    a = clock.now()
    b = clock.now()
    wall.ms -= 5000
    c = clock.now()
    assert a < b < c and millis(c) == 1_000_000


def test_hlc_follows_a_plausible_remote_but_not_one_from_the_future():
    wall = FakeWall(1_000_000)
    clock = HybridClock(wall=wall)
    assert clock.observe(pack(1_000_000 + 60_000))
    assert millis(clock.now()) == 1_060_000
    far = pack(1_000_000 + MAX_DRIFT_MS + 10**9)
    assert not clock.observe(far)
    assert millis(clock.now()) == 1_060_000
    assert clock.report.suspect_remote_ms > MAX_DRIFT_MS


def test_hlc_warns_when_the_wall_clock_was_reset():
    clock = HybridClock(last=pack(2_000_000_000_000), wall=FakeWall(978_307_200_000))  # RTC back to 2001
    assert clock.report.behind_ms > 0
    assert millis(clock.now()) >= 2_000_000_000_000


def test_far_future_entry_is_kept_and_flagged_without_dragging_our_clock(make_store):
    sender, receiver = make_store(), make_store()
    sender.clock.last = pack(millis(sender.clock.now()) + 10 * 365 * 86_400_000)  # ten years ahead
    entries = history(sender, 1)
    result = receiver.ingest(entries)
    assert result.applied == 1 and result.suspect_clock == [sender.device_id]
    [mine] = receiver.append([Change("patient", "q", "create", {"fields": {"given_name": "B"}})], user="u")
    assert mine.hlc < entries[0].hlc
