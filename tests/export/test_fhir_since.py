"""An export `since` a version vector misses nothing (fhir_since.py): entries that reach the database
late with older stamps, patients that arrive after their encounters, merges, entries held back and
released, on real stores that exchange entries as sync does. A property checks it over any history:
the exports since one another, applied in turn, hold what one whole export holds."""

from __future__ import annotations

from datetime import date, timedelta

from fhir_clinic import SUPERVISOR
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from fieldkit.export import fhir, fhir_bundle
from fieldkit.export.fhir_read import load
from fieldkit.records import immunizations
from fieldkit.records.services import Clinic
from fieldkit.store.db import Change
from fieldkit.store.fold import field_versions
from fieldkit.store.hlc import HybridClock, wall_ms

DAY_MS = 24 * 3600 * 1000


def export(store, since=None) -> tuple[dict, dict[str, int]]:
    """(the bundle since `since`, the vector to give the next export), read in one snapshot."""
    def job(conn):
        return load(b"".join(fhir.stream(conn, since=since, validate=False))), fhir.next_since(conn)
    return store.read(job)


def kinds(bundle: dict) -> list[str]:
    return sorted(e["resource"]["resourceType"] for e in bundle.get("entry", ()))


def urls(bundle: dict) -> set[str]:
    return {e["fullUrl"].rsplit("/", 2)[-2] + "/" + e["fullUrl"].rsplit("/", 1)[-1] for e in bundle.get("entry", ())}


def send(source, target, origin: str | None = None) -> None:
    """What a sync hands over: the entries `target` lacks (of one laptop's chain only, if given)."""
    entries = source.entries_after(target.version_vector(), limit=10**6)
    target.ingest([e for e in entries if origin is None or e.origin == origin])


def test_an_entry_that_arrives_late_with_an_older_stamp_is_in_the_next_export(make_store):
    hub, laptop = make_store(), make_store()
    laptop.clock = HybridClock(wall=lambda: wall_ms() - DAY_MS)  # a laptop whose clock is a day behind
    away = Clinic(laptop, SUPERVISOR)
    late = away.register({"given_name": "Reza", "sex": "male"}).patient_id
    away.record_encounter({"patient_id": late, "kind": "home", "vitals": {"pulse": 90}})
    Clinic(hub, SUPERVISOR).register({"given_name": "Hoa", "sex": "female"})
    first, mark = export(hub)
    assert kinds(first) == ["Patient"]
    send(laptop, hub)
    stamps = hub.read(lambda conn: dict(conn.execute("SELECT origin, max(hlc) FROM journal GROUP BY origin")))
    assert stamps[laptop.device_id] < stamps[hub.device_id]  # older than anything the first export saw
    after, again = export(hub, mark)
    assert kinds(after) == ["Encounter", "Observation", "Patient"]
    assert f"Patient/{late.lower()}" in urls(after)
    fhir_bundle.check_bundle(after, complete=False, validate=False)
    nothing, same = export(hub, again)
    assert "entry" not in nothing and same == again  # an unchanged database: nothing new, the same vector


def test_a_patient_that_arrives_after_its_encounter_brings_it(make_store):
    hub, registers, treats = make_store(), make_store(), make_store()
    pid = Clinic(registers, SUPERVISOR).register({"given_name": "Lan", "sex": "female"}).patient_id
    send(registers, treats)
    Clinic(treats, SUPERVISOR).record_encounter({"patient_id": pid, "vitals": {"pulse": 80}})
    send(treats, hub, origin=treats.device_id)  # the encounter reaches the hub first
    before, mark = export(hub)
    assert "entry" not in before  # an encounter waits for its patient
    send(registers, hub)
    after, _next = export(hub, mark)
    assert kinds(after) == ["Encounter", "Observation", "Patient"]


def test_a_merge_that_arrives_before_the_record_it_names_links_once_that_arrives(make_store):
    hub, registers, merges = make_store(), make_store(), make_store()
    kept = Clinic(registers, SUPERVISOR).register({"given_name": "Salem", "sex": "male"}).patient_id
    send(registers, merges)
    clinic = Clinic(merges, SUPERVISOR)
    twin = clinic.register({"given_name": "Salim", "sex": "male"}).patient_id
    clinic.merge(twin, kept)
    send(merges, hub, origin=merges.device_id)
    whole, mark = export(hub)
    fhir_bundle.check_bundle(whole, validate=False)  # whole: no link to a record the hub does not hold
    [alone] = [e["resource"] for e in whole["entry"]]
    assert alone["active"] is False and "link" not in alone
    send(registers, hub)
    linked, _next = export(hub, mark)
    links = {e["resource"]["id"]: e["resource"]["link"] for e in linked["entry"]}
    assert links == {kept.lower(): [{"other": {"reference": f"Patient/{twin.lower()}"}, "type": "replaces"}],
                     twin.lower(): [{"other": {"reference": f"Patient/{kept.lower()}"}, "type": "replaced-by"}]}


def test_a_merge_carries_both_records_links_and_a_dose_its_patients_recommendation(make_store):
    store = make_store()
    clinic = Clinic(store, SUPERVISOR)
    kept = clinic.register({"given_name": "Salem", "sex": "male", "birth_date": "1980-05-02"}).patient_id
    twin = clinic.register({"given_name": "Salim", "sex": "male"}).patient_id
    other = clinic.register({"given_name": "Mai", "sex": "female", "birth_date": "1990-01-01"}).patient_id
    clinic.run(immunizations.give, {"patient_id": other, "vaccine": "hepb-adult", "lot": "HB-1"})
    _all, mark = export(store)
    clinic.merge(twin, kept)
    merged, mark = export(store, mark)
    assert urls(merged) == {f"Patient/{kept.lower()}", f"Patient/{twin.lower()}"}
    links = {e["resource"]["id"]: e["resource"]["link"] for e in merged["entry"]}
    assert links[kept.lower()][0]["type"] == "replaces" and links[twin.lower()][0]["type"] == "replaced-by"
    dose = clinic.run(immunizations.give, {"patient_id": kept, "vaccine": "hepb-adult", "lot": "HB-1"}).id
    given_, mark = export(store, mark)
    assert kinds(given_) == ["Immunization", "ImmunizationRecommendation"]
    [recommendation] = [e["resource"] for e in given_["entry"] if e["resource"]["resourceType"] != "Immunization"]
    assert recommendation["patient"] == {"reference": f"Patient/{kept.lower()}"}  # not the other patient's
    assert f"Immunization/{dose.lower()}" in urls(given_)
    clinic.edit(kept, {"locality": "Homs"})
    located, mark = export(store, mark)
    assert kinds(located) == ["Patient"]  # where someone lives moves no schedule
    clinic.edit(kept, {"birth_date": "1981-05-02"})
    older, _next = export(store, mark)
    assert kinds(older) == ["ImmunizationRecommendation", "Patient"]  # an age does


def test_a_dose_moved_to_another_patient_updates_both_patients_recommendations(make_store):
    store = make_store()
    clinic = Clinic(store, SUPERVISOR)
    first, second = (clinic.register({"given_name": name, "sex": "female", "birth_date": "1990-01-01"}).patient_id
                     for name in ("Mai", "Lan"))
    for days in (60, 30):
        clinic.run(immunizations.give, {"patient_id": first, "vaccine": "hepb-adult", "lot": "HB-1",
                                        "occurred": (date.today() - timedelta(days=days)).isoformat()})
    clinic.run(immunizations.give, {"patient_id": second, "vaccine": "hepb-adult", "lot": "HB-1"})
    _all, mark = export(store)
    dose = store.read(lambda conn: conn.execute("SELECT id FROM immunizations WHERE patient_id = ? ORDER BY occurred "
                                                "DESC LIMIT 1", (first,)).fetchone()[0])
    base = store.read(lambda conn: field_versions(conn, dose))
    # Recorded under the wrong patient: corrected (a safety field; the fold keeps the history).
    store.append([Change("immunization", dose, "update", {"fields": {"patient_id": second},
                                                          "base": {"patient_id": base["patient_id"]}})],
                 user=SUPERVISOR.id)
    moved, _next = export(store, mark)
    assert urls(moved) == {f"Immunization/{dose.lower()}",
                           *(f"ImmunizationRecommendation/{fhir.derived_id(pid, 'hepb-staff')}" for pid in (first, second))}


def test_entries_held_back_stay_out_until_released(make_store):
    hub, laptop = make_store(), make_store()
    clinic = Clinic(laptop, SUPERVISOR)
    pid = clinic.register({"given_name": "Minh", "sex": "male"}).patient_id
    send(laptop, hub)
    # The laptop is revoked: what it writes after the entries the hub holds is held back there.
    hub.append([Change("device", laptop.device_id, "revoke", {"cutoff": hub.version_vector()[laptop.device_id]})],
               user=SUPERVISOR.id)
    _all, mark = export(hub)
    clinic.edit(pid, {"locality": "Cần Thơ"})
    stranger = clinic.register({"given_name": "Tuan", "sex": "male"}).patient_id
    send(laptop, hub)
    assert len(hub.held()) == 2
    held, mark = export(hub, mark)
    assert "entry" not in held  # received, kept, relayed, but not shown: not exported
    hub.append([Change("device", laptop.device_id, "release", {"cutoff": hub.version_vector()[laptop.device_id]})],
               user=SUPERVISOR.id)
    released, _next = export(hub, mark)  # the vector already passed them: released since, they come now
    assert urls(released) == {f"Patient/{pid.lower()}", f"Patient/{stranger.lower()}"}
    [edited] = [e["resource"] for e in released["entry"] if e["resource"]["id"] == pid.lower()]
    assert edited["address"] == [{"text": "Cần Thơ"}]


def test_what_a_late_revocation_holds_back_is_exported_again_without_it(make_store):
    hub, laptop, supervisor = make_store(), make_store(), make_store()
    clinic = Clinic(laptop, SUPERVISOR)
    pid = clinic.register({"given_name": "Minh", "sex": "male", "locality": "Huế"}).patient_id
    send(laptop, supervisor)  # the supervisor's laptop has seen the registration only
    clinic.edit(pid, {"locality": "Cần Thơ"})
    send(laptop, hub)
    exported, mark = export(hub)
    assert exported["entry"][0]["resource"]["address"] == [{"text": "Cần Thơ"}]
    supervisor.append([Change("device", laptop.device_id, "revoke",
                              {"cutoff": supervisor.version_vector()[laptop.device_id]})], user=SUPERVISOR.id)
    send(supervisor, hub, origin=supervisor.device_id)
    again, _next = export(hub, mark)
    assert [e["resource"]["address"] for e in again["entry"]] == [[{"text": "Huế"}]]  # the edit is held now


# -- the property -----------------------------------------------------------------------------------

PATIENTS = ["pa", "pb", "pc"]
laptop = st.integers(0, 2)
edit = st.tuples(st.just("edit"), laptop, st.sampled_from(PATIENTS), st.sampled_from(["Huế", "Idlib", "Yazd"]))
encounter = st.tuples(st.just("encounter"), laptop, st.sampled_from(PATIENTS), st.integers(40, 180))
merge = st.tuples(st.just("merge"), laptop, st.sampled_from(PATIENTS), st.sampled_from(PATIENTS))
sync = st.tuples(st.just("sync"), laptop, laptop)
# Some of one chain's entries that a laptop holds reach the hub (relayed: not only its own).
upload = st.tuples(st.just("upload"), laptop, laptop, st.integers(1, 6))
export_ = st.tuples(st.just("export"))
step = st.one_of(edit, encounter, merge, merge, sync, sync, upload, upload, upload, export_, export_,
                 st.tuples(st.just("revoke"), laptop, laptop),
                 st.tuples(st.just("release"), laptop, laptop, st.integers(1, 4)))


def act(laptops, hub, action) -> None:
    kind, *rest = action
    if kind == "register":
        laptops[rest[0]].append([Change("patient", rest[1], "create", {"fields": {"given_name": rest[1].upper()}})],
                                user="u")
        return
    if kind == "sync":
        send(laptops[rest[0]], laptops[rest[1]])
        return
    if kind == "upload":
        origin = laptops[rest[1]].device_id
        hub.ingest([e for e in laptops[rest[0]].entries_after(hub.version_vector(), limit=10**6)
                    if e.origin == origin][:rest[2]])
        return
    laptop = laptops[rest[0]]
    if kind == "encounter":
        changes = [Change("encounter", f"e{rest[2]}-{rest[0]}-{laptop.version_vector().get(laptop.device_id, 0)}",
                          "create", {"patient_id": rest[1], "kind": "visit", "vitals": {"pulse": rest[2]}})]
    elif kind in ("edit", "merge"):
        base = laptop.read(lambda conn: field_versions(conn, rest[1]))
        if not base or (kind == "merge" and rest[1] == rest[2]):
            return
        name, value = ("locality", rest[2]) if kind == "edit" else ("merged_into", rest[2])
        changes = [Change("patient", rest[1], "update", {"fields": {name: value}, "base": {name: base.get(name, "")}})]
    else:  # revocations and releases, as test_fold makes them
        device = laptops[rest[1]].device_id
        if rest[0] == rest[1]:
            return
        cutoff = laptop.version_vector().get(device, 0)
        if kind == "release":
            cutoff = laptop.cutoffs().devices.get(device, cutoff) + rest[2]
        changes = [Change("device", device, kind, {"cutoff": cutoff})]
    laptop.append(changes, user="u")


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=st.lists(step, min_size=5, max_size=40))
# Histories that random ones reach rarely, each taking one rule away if the rule is missing: a merge
# reaching the hub after both records; a revocation arriving after what it holds was exported; a release.
@example(steps=[("upload", 0, 0, 6), ("upload", 1, 1, 6), ("export",), ("sync", 0, 1), ("merge", 1, "pb", "pa"),
                ("upload", 1, 1, 6), ("export",)])
@example(steps=[("sync", 0, 1), ("edit", 0, "pa", "Yazd"), ("upload", 0, 0, 6), ("export",), ("revoke", 1, 0),
                ("upload", 1, 1, 6)])
@example(steps=[("revoke", 1, 0), ("upload", 1, 1, 6), ("upload", 0, 0, 6), ("export",), ("release", 1, 0, 4),
                ("upload", 1, 1, 6)])
def test_exports_since_one_another_add_up_to_the_whole_export(make_store, steps):
    laptops, hub = [make_store(device=n + 1) for n in range(3)], make_store(device=9)
    held: dict[str, dict] = {}  # what a receiver holds: each resource as last sent
    since = None
    try:
        # Each patient registered on a laptop of its own, then anything; in the end every laptop's
        # entries reach the hub.
        registered = [("register", n, patient) for n, patient in enumerate(PATIENTS)]
        everything = [("upload", n, n, 10**6) for n in range(3)]
        for action in [*registered, *steps, *everything, ("export",)]:
            if action[0] != "export":
                act(laptops, hub, action)
                continue
            bundle, since = export(hub, since)
            held |= {e["fullUrl"]: e["resource"] for e in bundle.get("entry", ())}
        whole, _vector = export(hub)
    finally:
        for store in (*laptops, hub):
            store.close()
    # Every resource the whole export holds, as it holds it. (One the database no longer shows, its
    # only entries held back since, stays with the receiver: FHIR has no "removed since".)
    assert {e["fullUrl"]: held.get(e["fullUrl"]) for e in whole.get("entry", ())} == \
        {e["fullUrl"]: e["resource"] for e in whole.get("entry", ())}
