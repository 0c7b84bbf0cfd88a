"""Sync sessions between laptops over real mutual TLS 1.3 on loopback (DESIGN decision 3).

What a session must do (exchange both ways, relay, surface conflicts, spread resolutions and
revocations, cope with wrong clocks) and what it must refuse, each refusal in one line and with
the receiving laptop's folded state and version vector exactly as they were.

The one `xfail` pins a known limitation of the clock rules, with its reason.
"""

from __future__ import annotations

import asyncio
import contextvars
import dataclasses
import struct
import zlib
from contextlib import asynccontextmanager

import orjson
import pytest
from sync_support import CHEAP_KDF, PASSPHRASE, conflict_rows, journal, serving, session, state, sync

from fieldkit.errors import ChainError, FieldkitError
from fieldkit.records import queries
from fieldkit.records.ids import new_id
from fieldkit.records.services import Clinic
from fieldkit.store import hlc
from fieldkit.store.db import Change
from fieldkit.store.journal import COLUMNS, SCHEMA_VERSION, checkpoint_message, compute_hash
from fieldkit.store.session import add_user
from fieldkit.sync import certs, membership, messages, wire
from fieldkit.sync import session as sync_session
from fieldkit.sync.certs import CertificateRefused
from fieldkit.sync.identity import public_key
from fieldkit.sync.peer import Revoked, sync_with
from fieldkit.sync.session import BATCH, PeerRefused
from fieldkit.sync.verify import Refused, Verifier
from fieldkit.sync.wire import Channel, ProtocolError

NETWORK = "Soc Trang mobile clinics"
YEARS_10_MS = 10 * 365 * 24 * 3600 * 1000
MINUTE_MS = 60 * 1000

LAN = {"given_name": "Lan", "family_name": "Nguyen", "sex": "female", "birth_date": "1990-04-01",
       "phone": "+84901234567", "locality": "Vinh Chau"}
MINH = {"given_name": "Minh", "family_name": "Tran", "sex": "male", "birth_date": "1975-11-20"}
HOA = {"given_name": "Hoa", "family_name": "Le", "sex": "female", "birth_date": "2001-02-03"}


def patient_ids(laptop) -> set[str]:
    return laptop.store.read(lambda conn: {row[0] for row in conn.execute("SELECT id FROM patients")})


def open_conflicts(laptop, **options):
    return laptop.store.read(lambda conn: queries.conflicts(conn, **options))


# -- exchange ------------------------------------------------------------------------------------


async def test_two_laptops_exchange_both_ways_in_one_session(laptops):
    a, b = laptops(2)
    lan = a.clinic.register(LAN).patient_id
    a.clinic.register(MINH)
    a.clinic.record_encounter({"patient_id": lan, "vitals": {"pulse": 88, "temperature_c": 37.2}})
    hoa = b.clinic.register(HOA).patient_id
    a_count, b_count = a.store.version_vector()[a.device], b.store.version_vector()[b.device]
    assert (a_count, b_count) == (4, 2)  # each laptop's supervisor is journalled first

    mine, theirs = await sync(b, a)

    assert state(a) == state(b)
    assert journal(a) == journal(b)
    assert a.store.version_vector() == {a.device: a_count, b.device: b_count}
    assert patient_ids(b) >= {lan, hoa} and patient_ids(a) == patient_ids(b)
    assert (mine.peer, theirs.peer) == (a.device, b.device)
    assert (mine.sent, mine.received, mine.to_send, mine.to_receive) == (b_count, a_count, b_count, a_count)
    assert (theirs.sent, theirs.received, theirs.to_send, theirs.to_receive) == (a_count, b_count, a_count, b_count)
    assert (mine.batches_sent, mine.batches_received, mine.already_held) == (1, 1, 0)
    assert mine.peer_vector == a.store.version_vector()  # the peer's ack: what it holds now
    assert not mine.clock_suspect and not theirs.clock_suspect
    [seen] = b.store.peers()
    assert (seen["device"], seen["sent"], seen["received"], seen["error"]) == (a.device, b_count, a_count, "")
    assert seen["vector"] == a.store.version_vector()

    again, their_again = await sync(b, a)
    for report in (again, their_again):
        assert (report.sent, report.received, report.to_send, report.to_receive) == (0, 0, 0, 0)
        assert (report.batches_sent, report.batches_received) == (0, 0)
        assert 0 < report.hello_bytes < 2048
    assert again.bytes_sent + again.bytes_received < 4096  # hellos, done and ack: nothing else
    assert state(a) == state(b)


async def test_a_long_journal_goes_in_bounded_batches(laptops):
    a, b = laptops(2)
    count = 2 * BATCH + 200
    a.store.append([Change("patient", new_id(), "create", {"fields": {"given_name": f"P{i}", "sex": "unknown"}})
                    for i in range(count)], user=a.user.id)
    received: dict[int, int] = {}  # entries applied so far, after each batch received
    async with serving(a) as server:
        mine = await sync_with(b.store, b.member, "127.0.0.1", server.port,
                               progress=lambda report: received.setdefault(report.batches_received, report.received))
        await asyncio.wait_for(server.sessions.get(), 10)
    assert mine.received == count + 1 == received[mine.batches_received]
    assert received[1] == BATCH and mine.batches_received >= 2  # the first batch is small, then they grow
    assert state(a) == state(b)


class Shutdown(Exception):
    """The laptop dies in the middle of a session (raised from the progress callback)."""


def long_journal(laptop, count: int) -> set[int]:
    """`count` patients on `laptop`, signed as a session would sign them; the checkpointed seqs."""
    laptop.store.append([Change("patient", new_id(), "create", {"fields": {"given_name": f"P{i}", "sex": "unknown"}})
                         for i in range(count)], user=laptop.user.id)
    laptop.store.sign_checkpoints(laptop.member.sign)
    return set(laptop.store.read(lambda conn: [row[0] for row in conn.execute(
        "SELECT seq FROM checkpoints WHERE origin = ?", (laptop.store.device_id,))]))


async def test_a_session_that_dies_midway_keeps_whole_batches_and_the_next_one_resumes(laptops):
    a, b = laptops(2)
    count = 3 * BATCH
    boundaries = long_journal(a, count)

    def die(report) -> None:
        if report.batches_received == 1:
            raise Shutdown

    async with serving(a) as server:
        with pytest.raises(Shutdown):
            await sync_with(b.store, b.member, "127.0.0.1", server.port, progress=die)
        _, error = await asyncio.wait_for(server.sessions.get(), 10)
        assert isinstance(error, ProtocolError) and "closed the connection" in str(error)
        kept = b.store.version_vector().get(a.device, 0)
        assert kept in boundaries and 0 < kept < count + 1  # whole batches, each ending on a checkpoint
        assert b.store.read(lambda conn: conn.execute("SELECT count(*) FROM patients").fetchone()[0]) == kept - 1

        mine, _ = await session(b, server)
    assert (mine.received, mine.to_receive, mine.already_held) == (count + 1 - kept, count + 1 - kept, 0)
    assert state(a) == state(b) and journal(a) == journal(b)


async def test_cancelling_a_session_stops_it(laptops):
    a, b = laptops(2)
    count = 3 * BATCH
    long_journal(a, count)

    def stop(report) -> None:
        if report.batches_received == 1:
            task.cancel()

    async with serving(a) as server:
        task = asyncio.create_task(sync_with(b.store, b.member, "127.0.0.1", server.port, progress=stop))
        with pytest.raises(asyncio.CancelledError):
            await task
        _, error = await asyncio.wait_for(server.sessions.get(), 10)
    assert b.store.version_vector().get(a.device, 0) < count + 1, "the session ran on after it was cancelled"
    assert isinstance(error, FieldkitError)


async def test_entries_relayed_by_a_third_laptop_are_verified_and_kept(laptops):
    a, b, c = laptops(3)
    lan = a.clinic.register(LAN).patient_id
    a.clinic.record_encounter({"patient_id": lan, "vitals": {"pulse": 101}})
    await sync(b, a)  # a -> b
    a_top = a.store.version_vector()[a.device]

    mine, _ = await sync(c, b)  # b -> c: a's entries with a's certificate and signed checkpoint

    assert c.store.version_vector()[a.device] == a_top
    assert mine.received == a_top + b.store.version_vector()[b.device]
    assert lan in patient_ids(c)
    assert state(b) == state(c)
    assert c.store.certificates()[a.device] == a.member.certificate
    signed = c.store.read(lambda conn: conn.execute(
        "SELECT seq, hash FROM checkpoints WHERE origin = ?", (a.device,)).fetchall())
    head = a.store.read(lambda conn: conn.execute(
        "SELECT seq, hash FROM journal WHERE origin = ? ORDER BY seq DESC LIMIT 1", (a.device,)).fetchone())
    assert tuple(head) in {tuple(row) for row in signed}
    assert c.device not in {peer["device"] for peer in a.store.peers()}  # a and c never met

    await sync(a, b)
    assert state(a) == state(b) == state(c)
    assert journal(a) == journal(b) == journal(c)


# -- conflicts -----------------------------------------------------------------------------------


async def test_concurrent_safety_edits_conflict_once_and_a_resolution_spreads(laptops):
    a, b = laptops(2)
    lan = a.clinic.register(LAN).patient_id
    await sync(b, a)
    a.clinic.edit(lan, {"sex": "male", "birth_date": "1991-04-01", "locality": "Soc Trang"})
    b.clinic.edit(lan, {"sex": "other", "birth_date": "1991-04-01"})  # agreeing on the date: no conflict

    await sync(b, a)

    assert state(a) == state(b)
    for laptop in (a, b):
        [conflict] = open_conflicts(laptop)
        assert (conflict["patient_id"], conflict["field"], conflict["needs_review"]) == (lan, "sex", True)
        assert sorted(c["value"] for c in conflict["candidates"]) == ["male", "other"]
        assert [c["id"] for c in open_conflicts(laptop, review_only=True)] == [conflict["id"]]
        assert len(conflict_rows(laptop)) == 1
    assert conflict_rows(a) == conflict_rows(b)

    b.clinic.resolve_conflict(conflict["id"], "male", "checked the identity card")
    assert open_conflicts(b) == []
    await sync(a, b)

    assert state(a) == state(b)
    for laptop in (a, b):
        assert open_conflicts(laptop) == []
        [resolved] = open_conflicts(laptop, include_resolved=True)
        assert resolved["id"] == conflict["id"] and resolved["resolved"]
        assert resolved["resolution"] == {"reason": "checked the identity card", "by": b.user.id}
        assert laptop.clinic.patient(lan)["sex"] == "male"
        assert len(conflict_rows(laptop)) == 1  # the resolution made no new conflict
    with pytest.raises(FieldkitError, match="no open conflict"):
        a.clinic.resolve_conflict(conflict["id"], "other", "second thoughts")


# -- refusals: who may connect -------------------------------------------------------------------


async def test_a_laptop_of_another_network_with_the_same_name_cannot_connect(laptops):
    a, b = laptops(2)
    a.clinic.register(LAN)
    [outsider] = laptops(1)  # its own network, named like ours
    outsider.clinic.register(HOA)
    before = state(a), state(outsider)

    async with serving(a) as server:
        with pytest.raises(CertificateRefused, match=f"is not a laptop of {NETWORK}"):
            await sync_with(outsider.store, outsider.member, "127.0.0.1", server.port)
        _, refused = await asyncio.wait_for(server.sessions.get(), 10)  # and the server says so
        assert isinstance(refused, CertificateRefused) and str(refused).startswith("refused: ")
        async with serving(outsider) as elsewhere:
            with pytest.raises(CertificateRefused, match=f"is not a laptop of {NETWORK}"):
                await sync_with(a.store, a.member, "127.0.0.1", elsewhere.port)
            await asyncio.wait_for(elsewhere.sessions.get(), 10)
        assert (state(a), state(outsider)) == before
        assert a.store.peers() == [] and outsider.store.peers() == []

        await session(b, server)  # still serving its own laptops
    assert state(a) == state(b)


async def test_an_outsider_that_trusts_our_network_certificate_still_gets_nothing(laptops):
    """Our network certificate is public; a self-made certificate is still refused by our side."""
    a, _b = laptops(2)
    a.clinic.register(LAN)
    [outsider] = laptops(1)
    impostor = dataclasses.replace(outsider.member, network=a.member.network)  # trusts our anchor
    before = state(a), state(outsider)
    async with serving(a) as server:
        with pytest.raises(FieldkitError):
            await sync_with(outsider.store, impostor, "127.0.0.1", server.port)
    assert (state(a), state(outsider)) == before


async def test_a_revoked_laptop_is_refused_and_the_revocation_spreads(laptops):
    a, b, c = laptops(3)
    a.clinic.register(LAN)
    c.clinic.register(HOA)
    await sync(b, a)
    membership.revoke(a.store, a.member, c.device, user=a.user.id, reason="stolen")
    assert a.store.revoked() == {c.device}
    before = {"a": state(a), "c": state(c)}

    async with serving(a) as server:
        with pytest.raises(FieldkitError, match="revoked|closed the connection"):
            await sync_with(c.store, c.member, "127.0.0.1", server.port)
        _, error = await asyncio.wait_for(server.sessions.get(), 10)
        assert isinstance(error, Revoked) and str(error) == f"laptop {c.device[:8]} was revoked: refused"
        async with raw_connection(c, server, hello=False) as channel:  # the first and last word is why
            assert await replies(channel) == [{"kind": "error", "message": "this laptop was revoked from the network"}]
        await asyncio.wait_for(server.sessions.get(), 10)
    async with serving(c) as server:  # nor does a call a revoked laptop
        with pytest.raises(Revoked, match="revoked"):
            await sync_with(a.store, a.member, "127.0.0.1", server.port)
    assert {"a": state(a), "c": state(c)} == before

    assert b.store.revoked() == set()
    await sync(b, a)  # the revocation is a journal entry: it spreads like one
    assert b.store.revoked() == {c.device}
    before = {"b": state(b), "c": state(c)}
    async with serving(b) as server:
        with pytest.raises(FieldkitError, match="revoked|closed the connection"):
            await sync_with(c.store, c.member, "127.0.0.1", server.port)
        _, error = await asyncio.wait_for(server.sessions.get(), 10)
        assert isinstance(error, Revoked)
    assert {"b": state(b), "c": state(c)} == before


async def test_a_refused_revoked_laptop_is_remembered_with_the_reason(laptops):
    a, _b, c = laptops(3)
    membership.revoke(a.store, a.member, c.device, user=a.user.id)
    async with serving(a) as server:
        with pytest.raises(FieldkitError):
            await sync_with(c.store, c.member, "127.0.0.1", server.port)
        await asyncio.wait_for(server.sessions.get(), 10)
    assert [(p["device"], p["error"]) for p in a.store.peers()] == [
        (c.device, f"laptop {c.device[:8]} was revoked: refused")]


# -- refusals: what a batch must prove -----------------------------------------------------------


def batch_of(out) -> messages.Batch:
    """An `Outgoing` as the batch message a session would send."""
    return messages.Batch(entries=[list(e.row()) for e in out.entries],
                          checkpoints=[(c.origin, c.seq, c.hash, c.signature.hex()) for c in out.checkpoints],
                          certificates={origin: pem.decode() for origin, pem in out.certificates.items()})


def receive(laptop, batch: messages.Batch, verifier: Verifier | None = None):
    """What `session._receive` does with a batch: verify, then journal and fold."""
    verified = (verifier or Verifier(laptop.store, laptop.member.network)).check(batch)
    return laptop.store.ingest(verified.entries, checkpoints=verified.checkpoints,
                                     certificates=verified.certificates)


def rehashed(row: list, **changes) -> list:
    """A journal row with some values changed and its hash computed again over them."""
    values = dict(zip(COLUMNS, row), **changes)
    values["hash"] = compute_hash(*(values[name] for name in COLUMNS if name != "hash"))
    return [values[name] for name in COLUMNS]


def signed_by(laptop, origin: str, row: list) -> list:
    """A checkpoint over `row` signed by `laptop` (the origin itself, or an impostor)."""
    seq, digest = row[1], row[9]
    return [origin, seq, digest, laptop.member.sign(checkpoint_message(origin, seq, digest)).hex()]


@pytest.fixture
def sent(laptops):
    """Laptop a with three patients, a fresh laptop b, and a's whole journal as one genuine batch."""
    a, b, c = laptops(3)
    for patient in (LAN, MINH, HOA):
        a.clinic.register(patient)
    a.store.sign_checkpoints(a.member.sign)
    batch = batch_of(a.store.outgoing({}, 10**6))
    assert [row[1] for row in batch.entries] == [1, 2, 3, 4] and len(batch.checkpoints) == 1
    return a, b, c, batch


def _alter_kept_hash(a, b, c, rows, checkpoints, certificates):
    rows[1][10] = rows[1][10].replace("Lan", "Lam")
    return rows, checkpoints, certificates


def _alter_last_rehashed(a, b, c, rows, checkpoints, certificates):
    rows[-1] = rehashed(rows[-1], data=rows[-1][10].replace("Hoa", "Hao"))
    return rows, checkpoints, certificates


def _alter_last_rehashed_checkpoint_moved(a, b, c, rows, checkpoints, certificates):
    rows[-1] = rehashed(rows[-1], data=rows[-1][10].replace("Hoa", "Hao"))
    checkpoints[0][2] = rows[-1][9]  # the checkpoint claims the new hash; a's signature does not
    return rows, checkpoints, certificates


def _alter_middle_relinked(a, b, c, rows, checkpoints, certificates):
    rows[1] = rehashed(rows[1], data=rows[1][10].replace("Lan", "Lam"))
    for i in range(2, len(rows)):
        rows[i] = rehashed(rows[i], prev=rows[i - 1][9])
    checkpoints[0][2] = rows[-1][9]
    return rows, checkpoints, certificates


def _alter_middle_not_relinked(a, b, c, rows, checkpoints, certificates):
    rows[1] = rehashed(rows[1], data=rows[1][10].replace("Lan", "Lam"))
    return rows, checkpoints, certificates


def _skip_middle(a, b, c, rows, checkpoints, certificates):
    del rows[1]
    return rows, checkpoints, certificates


def _skip_first(a, b, c, rows, checkpoints, certificates):
    del rows[0]
    return rows, checkpoints, certificates


def _reorder(a, b, c, rows, checkpoints, certificates):
    rows[1], rows[2] = rows[2], rows[1]
    return rows, checkpoints, certificates


def _no_certificate(a, b, c, rows, checkpoints, certificates):
    return rows, checkpoints, {}


def _certificate_of_another_network(a, b, c, rows, checkpoints, certificates):
    key, elsewhere = certs.create_network(NETWORK)
    forged = certs.enrol(key, elsewhere, public_key(membership.device_key(a.store)))
    return rows, checkpoints, {a.device: forged.decode()}


def _certificate_of_another_laptop(a, b, c, rows, checkpoints, certificates):
    return rows, checkpoints, {a.device: c.member.certificate.decode()}


def _signed_by_another_laptop(a, b, c, rows, checkpoints, certificates):
    return rows, [signed_by(c, a.device, rows[-1])], certificates


def _signature_not_hex(a, b, c, rows, checkpoints, certificates):
    checkpoints[0][3] = "zz" * 64
    return rows, checkpoints, certificates


def _no_checkpoint(a, b, c, rows, checkpoints, certificates):
    return rows, [], certificates


def _ends_before_checkpoint(a, b, c, rows, checkpoints, certificates):
    return rows[:-1], checkpoints, certificates


def _malformed_row(a, b, c, rows, checkpoints, certificates):
    rows[0][1] = "1"
    return rows, checkpoints, certificates


TAMPERED = [
    (_alter_kept_hash, ChainError, "does not match its hash"),
    (_alter_last_rehashed, Refused, "end on #4, which that laptop did not sign"),
    (_alter_last_rehashed_checkpoint_moved, Refused, r"is not its own \(altered on the way\)"),
    (_alter_middle_relinked, Refused, r"is not its own \(altered on the way\)"),
    (_alter_middle_not_relinked, ChainError, "broken hash chain"),
    (_skip_middle, ChainError, "skip from #1 to #3"),
    # The skipped first entry journalled its author's role, so the role check refuses first.
    (_skip_first, Refused, "unknown user"),
    (_reorder, Refused, "out of order"),
    (_no_certificate, Refused, f"which is not enrolled in {NETWORK}"),
    (_certificate_of_another_network, Refused, f"is not enrolled: certificate not signed by network {NETWORK}"),
    (_certificate_of_another_laptop, Refused, "belongs to laptop"),
    (_signed_by_another_laptop, Refused, r"is not its own \(altered on the way\)"),
    (_signature_not_hex, Refused, "not hex"),
    (_no_checkpoint, Refused, "which that laptop did not sign"),
    (_ends_before_checkpoint, Refused, "end on #3, which that laptop did not sign"),
    (_malformed_row, Refused, "malformed journal entry: seq must be int"),
]


@pytest.mark.parametrize("tamper, refusal, why", TAMPERED, ids=[t[0].__name__.strip("_") for t in TAMPERED])
def test_a_tampered_batch_is_refused_whole_and_changes_nothing(sent, tamper, refusal, why):
    a, b, c, genuine = sent
    rows, checkpoints, certificates = tamper(
        a, b, c, [list(row) for row in genuine.entries], [list(cp) for cp in genuine.checkpoints],
        dict(genuine.certificates))
    before, kept = state(b), b.store.certificates()

    with pytest.raises(refusal, match=why):
        receive(b, messages.Batch(entries=rows, checkpoints=checkpoints, certificates=certificates))

    assert state(b) == before and b.store.certificates() == kept
    assert receive(b, genuine).applied == 4  # the real batch still goes in afterwards
    assert b.store.version_vector()[a.device] == 4


def test_a_replayed_batch_changes_nothing(sent):
    _a, b, _c, batch = sent
    verifier = Verifier(b.store, b.member.network)
    assert receive(b, batch, verifier).applied == 4
    after = state(b), journal(b)
    for again in (verifier, None):  # the same session's verifier, and a later session's
        result = receive(b, batch, again)
        assert (result.applied, result.already_held) == (0, 4)
        assert (state(b), journal(b)) == after


def test_a_second_history_for_one_laptop_is_refused(sent):
    """A restored or cloned laptop re-using sequence numbers, even signing them properly."""
    a, b, _c, batch = sent
    receive(b, batch)
    before = state(b)
    fork = rehashed(list(batch.entries[-1]), data=batch.entries[-1][10].replace("Hoa", "Hao"))
    with pytest.raises(ChainError, match="two histories for one device"):
        receive(b, messages.Batch(entries=[fork], checkpoints=[signed_by(a, a.device, fork)]))
    assert state(b) == before


# -- refusals: roles ------------------------------------------------------------------------------


@pytest.fixture
def clerk_on_a(laptops):
    """Laptops a and b in sync, a knowing a clerk (journalled, so b knows the clerk's role too)."""
    a, b = laptops(2)
    clerk = add_user(a.home, a.store, by=a.user.name, by_passphrase=PASSPHRASE, name="bao", role="clerk",
                     passphrase="clerk passphrase 1", kdf=CHEAP_KDF)
    lan = Clinic(a.store, clerk).register(LAN).patient_id  # a clerk may register: this one spreads
    return a, b, clerk, lan


async def test_an_entry_whose_author_lacks_the_role_is_refused(clerk_on_a):
    a, b, clerk, lan = clerk_on_a
    await sync(b, a)
    assert lan in patient_ids(b)
    # Past the services' own check: written straight into a's journal, chained and signed by a.
    a.store.append([Change("encounter", new_id(), "create", {"patient_id": lan, "vitals": {"pulse": 80}})],
                   user=clerk.id)
    before = state(b)

    async with serving(a) as server:
        with pytest.raises(Refused, match=rf"entry {a.device[:8]}#\d+: a clerk may not create encounter records"):
            await sync_with(b.store, b.member, "127.0.0.1", server.port)
        await asyncio.wait_for(server.sessions.get(), 10)
    assert state(b) == before
    async with serving(b) as server:  # the other way round, b refuses as the one called
        with pytest.raises(FieldkitError):
            await sync_with(a.store, a.member, "127.0.0.1", server.port)
        _, error = await asyncio.wait_for(server.sessions.get(), 10)
    assert isinstance(error, Refused) and "a clerk may not create encounter records" in str(error)
    assert state(b) == before


@pytest.mark.parametrize("forged", ["clerk changes own role", "unknown author", "clerk voids patient"])
def test_role_rules_hold_on_the_journals_terms(clerk_on_a, forged):
    a, b, clerk, lan = clerk_on_a
    a.store.sign_checkpoints(a.member.sign)
    receive(b, batch_of(a.store.outgoing({}, 10**6)))
    have = b.store.version_vector()
    if forged == "clerk changes own role":
        change, author, why = Change("user", clerk.id, "update", {"fields": {"role": "supervisor"}}), clerk.id, \
            "a clerk may not update user records"
    elif forged == "unknown author":
        change, author, why = Change("patient", lan, "update", {"fields": {"locality": "X"}}), "nobody", \
            "unknown user nobody"
    else:
        change, author, why = Change("patient", lan, "update", {"fields": {"voided": True}}), clerk.id, \
            "a clerk may not update patient records"
    a.store.append([change], user=author)
    a.store.sign_checkpoints(a.member.sign)
    before = state(b)
    with pytest.raises(Refused, match=why):
        receive(b, batch_of(a.store.outgoing(have, 10**6)))
    assert state(b) == before


@pytest.mark.parametrize("who", ["clerk re-creates itself", "new self-made supervisor"])
def test_a_self_made_supervisor_is_refused(clerk_on_a, who):
    a, b, clerk, lan = clerk_on_a
    a.store.sign_checkpoints(a.member.sign)
    receive(b, batch_of(a.store.outgoing({}, 10**6)))
    have, before = b.store.version_vector(), state(b)
    author = clerk.id if who.startswith("clerk") else new_id()
    a.store.append([Change("user", author, "create", {"fields": {"name": "x", "role": "supervisor", "active": True}}),
                    Change("encounter", new_id(), "create", {"patient_id": lan, "vitals": {"pulse": 80}})],
                   user=author)
    a.store.sign_checkpoints(a.member.sign)
    with pytest.raises(Refused, match="may not"):
        receive(b, batch_of(a.store.outgoing(have, 10**6)))
    assert state(b) == before


@pytest.mark.parametrize("order", ["as selected", "the work's laptop first"])
async def test_a_users_work_under_another_origin_than_their_creation_is_accepted_in_either_order(laptops, order):
    """A user's creation and work sit under two origins when a laptop is restored from a backup:
    it writes under a new id as the users the backup holds (sync/reidentify.py). Here b plays the
    restored laptop. A batch lists origins by id, so the work may come first: roles are read in
    version order."""
    a, b, c = laptops(3)
    clerk = add_user(a.home, a.store, by=a.user.name, by_passphrase=PASSPHRASE, name="bao", role="clerk",
                     passphrase="clerk passphrase 1", kdf=CHEAP_KDF)
    await sync(b, a)
    lan = Clinic(b.store, clerk).register(LAN).patient_id
    b.store.sign_checkpoints(b.member.sign)
    batch = batch_of(b.store.outgoing({}, 10**6))
    if order != "as selected":
        batch.entries.sort(key=lambda row: (row[0] != b.device, row[0], row[1]))
    receive(c, batch)
    assert lan in patient_ids(c)


# -- refusals: malformed and hostile messages over a real TLS connection -------------------------


@asynccontextmanager
async def raw_connection(laptop, server, *, hello: bool = True):
    """An enrolled laptop's TLS connection to `server`, by default past the server's hello."""
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port, ssl=laptop.member.context(server=False))
    channel = Channel(reader, writer, timeout=5)
    try:
        if hello:
            assert (await channel.receive())["kind"] == "hello"
        yield channel
    finally:
        await channel.close()


async def replies(channel: Channel) -> list[dict]:
    """Every message the server sends until it ends the session."""
    received = []
    while True:
        try:
            received.append(await channel.receive())
        except ProtocolError:
            return received


def frame(flag: int, body: bytes, size: int | None = None) -> bytes:
    # The wire format (wire.py): 4-byte big-endian length, one flag byte, the body.
    return struct.pack(">IB", len(body) if size is None else size, flag) + body


def hello(laptop, **changes) -> dict:
    fields = dict(kind="hello", protocol=messages.PROTOCOL, schema=SCHEMA_VERSION, network=laptop.member.network.id,
                  device=laptop.device, clock=hlc.wall_ms(), vector=laptop.store.version_vector())
    return {**fields, **changes}


def hostile(b, c):
    """name: (frames sent after the server's hello, what the server's error must say)."""
    good = wire.encode(hello(b))
    return {
        "garbage json": ([frame(0, b"{this is not json")], "malformed message: not JSON"),
        "length past the limit": ([frame(0, b"", size=wire.MAX_FRAME + 1)],
                                  f"message of {wire.MAX_FRAME + 1} bytes is over the {wire.MAX_FRAME} byte limit"),
        "zlib bomb": ([frame(1, zlib.compress(b"\0" * (2 * wire.MAX_FRAME), 9))],
                      f"message inflates past the {wire.MAX_FRAME} byte limit"),
        "not deflate": ([frame(1, b"plainly not deflate")], "not valid compressed data"),
        "unknown flag": ([frame(7, b"{}")], "unknown frame flag 7"),
        "no kind": ([frame(0, orjson.dumps({"protocol": 1}))], "malformed message: no kind"),
        "unknown kind": ([frame(0, orjson.dumps({"kind": "gossip"}))], "malformed gossip"),
        "hello with a string protocol": ([wire.encode(hello(b, protocol="1"))], "malformed hello: protocol"),
        "hello with a negative vector": ([wire.encode(hello(b, vector={b.device: -1}))], "malformed hello: vector"),
        "hello with a short device id": ([wire.encode(hello(b, device="abc"))], "malformed hello: device"),
        "batch before hello": ([wire.encode(messages.dump(messages.Batch(entries=[], checkpoints=[])))],
                               "expected hello, got batch"),
        "another protocol": ([wire.encode(hello(b, protocol=messages.PROTOCOL + 1))],
                             f"speaks sync protocol {messages.PROTOCOL + 1}, this one {messages.PROTOCOL}"),
        "claims another laptop": ([wire.encode(hello(b, device=c.device))], "said it was another laptop"),
        "claims another network": ([wire.encode(hello(b, network=c.device))], "in another network"),
        "second hello": ([good, good], "unexpected hello message"),
        "malformed batch": ([good, wire.encode({"kind": "batch", "entries": [[1, 2]], "checkpoints": []})],
                            "malformed journal entry: expected 11 values"),
        "batch with a bad checkpoint": ([good, wire.encode({"kind": "batch", "entries": [], "checkpoints": [[1]]})],
                                        "malformed batch: checkpoints"),
    }


HOSTILE = ["garbage json", "length past the limit", "zlib bomb", "not deflate", "unknown flag", "no kind",
           "unknown kind", "hello with a string protocol", "hello with a negative vector",
           "hello with a short device id", "batch before hello", "another protocol", "claims another laptop",
           "claims another network", "second hello", "malformed batch", "batch with a bad checkpoint"]


@pytest.mark.parametrize("case", HOSTILE)
async def test_a_hostile_message_ends_its_session_only(laptops, case):
    a, b, c = laptops(3)
    lan = a.clinic.register(LAN).patient_id
    sent, why = hostile(b, c)[case]
    before = state(a), state(b)

    async with serving(a) as server:
        async with raw_connection(b, server) as channel:
            for data in sent:
                channel.writer.write(data)
            await channel.writer.drain()
            answers = await replies(channel)
        _, error = await asyncio.wait_for(server.sessions.get(), 10)
        assert isinstance(error, FieldkitError) and why in str(error)
        assert "\n" not in str(error)
        errors = [m for m in answers if m["kind"] == "error"]
        assert len(errors) == 1 and why in errors[0]["message"]
        assert answers[-1] is errors[0]  # the error is the session's last word
        assert (state(a), state(b)) == before

        mine, _ = await session(b, server)  # the next session is served as usual
    assert mine.received > 0 and lan in patient_ids(b)
    assert state(a)[0] == state(b)[0]


async def test_a_malformed_frame_is_answered_at_once(laptops):
    a, b, _c = laptops(3)
    async with serving(a) as server:
        async with raw_connection(b, server) as channel:
            channel.writer.write(frame(0, b"{this is not json"))
            await channel.writer.drain()
            started = asyncio.get_running_loop().time()
            first = await channel.receive()  # the connection stays open: the peer is waiting for us
            waited = asyncio.get_running_loop().time() - started
        await asyncio.wait_for(server.sessions.get(), 10)
    assert first == {"kind": "error", "message": "malformed message: not JSON"}
    assert waited < 0.5, f"answered after {waited:.2f} s"


async def test_garbage_then_an_error_frame_is_still_the_senders_fault(laptops):
    a, b, _c = laptops(3)
    before = state(a)
    async with serving(a) as server:
        async with raw_connection(b, server) as channel:
            channel.writer.write(frame(0, b"{this is not json") +
                                 wire.encode({"kind": "error", "message": "you sent me garbage"}))
            await channel.writer.drain()
            answers = await replies(channel)
        _, error = await asyncio.wait_for(server.sessions.get(), 10)
    assert state(a) == before
    assert str(error) == "malformed message: not JSON" and not isinstance(error, PeerRefused)
    assert {"kind": "error", "message": "malformed message: not JSON"} in answers


# -- refusals found by these tests, now fixed -----------------------------------------------------------------


async def test_a_journal_corrupted_on_disk_is_refused_by_the_receiver(laptops):
    a, b = laptops(2)
    a.clinic.register(LAN)
    a.clinic.register(MINH)
    a.store.write(lambda tx: tx.execute(
        "UPDATE journal SET data = replace(data, 'Lan', 'Lam') WHERE origin = ? AND seq = 2", (a.device,)))
    before = state(b)
    async with serving(b) as server:
        with pytest.raises(FieldkitError):
            await sync_with(a.store, a.member, "127.0.0.1", server.port)
        _, error = await asyncio.wait_for(server.sessions.get(), 10)
    assert isinstance(error, ChainError) and "does not match its hash" in str(error)
    assert state(b) == before


async def test_the_sender_of_a_corrupted_journal_is_told_why(laptops):
    a, b = laptops(2)
    a.clinic.register(LAN)
    a.store.write(lambda tx: tx.execute(
        "UPDATE journal SET data = replace(data, 'Lan', 'Lam') WHERE origin = ? AND seq = 2", (a.device,)))
    async with serving(b) as server:
        with pytest.raises(PeerRefused, match="does not match its hash"):
            await sync_with(a.store, a.member, "127.0.0.1", server.port)
        await asyncio.wait_for(server.sessions.get(), 10)


def _signed_entry(a, **fields) -> tuple[list, list]:
    """A row appended after a's head with `fields` changed, correctly hashed and signed by a."""
    a.store.sign_checkpoints(a.member.sign)
    head = a.store.entries_after({}, 10**6)[-1]
    row = rehashed([a.device, head.seq + 1, a.store.clock.now(), "patient", new_id(), "create", a.user.id,
                    SCHEMA_VERSION, head.hash, "", '{"fields":{"given_name":"X"}}'], **fields)
    return row, signed_by(a, a.device, row)


@pytest.mark.parametrize("data", ["not json", '{"fields":"given_name"}', '{"fields":{"role":"x"},"resolves":5}'])
def test_an_entry_with_malformed_data_is_refused_in_one_line(sent, data):
    a, b, _c, batch = sent
    receive(b, batch)
    row, checkpoint = _signed_entry(a, data=data)
    before = state(b)
    with pytest.raises(Refused) as refused:
        receive(b, messages.Batch(entries=[row], checkpoints=[checkpoint]))
    assert "\n" not in str(refused.value)
    assert state(b) == before


async def test_a_forged_checkpoint_for_another_origin_cannot_poison_a_relay(laptops):
    a, b, c, d = laptops(4)
    lan = a.clinic.register(LAN).patient_id
    a.store.sign_checkpoints(a.member.sign)
    head = a.store.entries_after({}, 10**6)[-1]
    b.store.sign_checkpoints(b.member.sign)
    forged = batch_of(b.store.outgoing({}, 10**6))
    planted = signed_by(b, a.device, list(head.row()))  # a's real head, signed by b
    receive(c, messages.Batch(entries=forged.entries, checkpoints=[*forged.checkpoints, planted],
                              certificates=forged.certificates))
    await sync(c, a)  # c now holds a's entries with a's own checkpoint
    await sync(d, c)  # and relays them: d must accept them
    assert lan in patient_ids(d)


# -- clocks ---------------------------------------------------------------------------------------

SKEW = contextvars.ContextVar("skew", default=0)


@pytest.fixture
def skew(monkeypatch):
    """`skew(laptop, ms)` sets a laptop's wall clock ms off; SKEW does the same for the hello of
    sessions started from the current task (the server's tasks keep the context it started in)."""
    real = hlc.wall_ms
    monkeypatch.setattr(sync_session, "wall_ms", lambda: real() + SKEW.get())

    def set_skew(laptop, ms: int) -> None:
        laptop.store.clock._wall = lambda: real() + ms

    return set_skew


async def test_a_laptop_years_ahead_converges_and_is_flagged(laptops, skew):
    a, b = laptops(2)
    skew(a, YEARS_10_MS)
    a.clinic.register(LAN)
    b.clinic.register(MINH)
    mine, _theirs = await sync(b, a)
    assert mine.clock_suspect and a.device in mine.suspect_clock  # a's entries stamped years ahead
    assert state(a)[0] == state(b)[0]
    assert patient_ids(a) == patient_ids(b) and len(patient_ids(a)) == 2


async def test_a_laptop_years_behind_converges_and_is_flagged(laptops, skew):
    a, b = laptops(2)
    skew(a, -YEARS_10_MS)
    a.clinic.register(LAN)
    b.clinic.register(MINH)
    async with serving(b) as server:
        SKEW.set(-YEARS_10_MS)  # a's hello says what a's clock says; b's server is unaffected
        mine, theirs = await session(a, server)
    assert mine.clock_suspect and theirs.clock_suspect
    assert theirs.clock_offset_ms < -YEARS_10_MS + 60_000
    assert state(a)[0] == state(b)[0]
    assert patient_ids(a) == patient_ids(b) and len(patient_ids(a)) == 2


@pytest.mark.xfail(strict=True, reason=(
    "known limitation: a stamp more than MAX_DRIFT_MS ahead is kept but does not move our clock "
    "(hlc.HybridClock.observe), so a later local edit of a field that laptop wrote is stamped below it and "
    "loses last-writer-wins until the clocks meet; the sync report and screen flag that laptop's clock. "
    "The fix is a causal rule in the fold (a write that saw version V supersedes V)"))
async def test_an_edit_after_entries_from_a_laptop_years_ahead_takes_effect(laptops, skew):
    a, b = laptops(2)
    skew(a, YEARS_10_MS)
    lan = a.clinic.register(LAN).patient_id
    await sync(b, a)
    assert b.clinic.edit(lan, {"locality": "Soc Trang"}) == ["locality"]
    assert b.clinic.patient(lan)["locality"] == "Soc Trang"
