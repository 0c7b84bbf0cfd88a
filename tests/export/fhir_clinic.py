"""A small clinic built through the services, holding something of every kind the FHIR export maps."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

from fieldkit.records import enrolments, immunizations, labs, referral_services, screening
from fieldkit.records.services import Clinic
from fieldkit.store.db import Store
from fieldkit.store.keystore import User

SUPERVISOR = User("sup", "Amina", "supervisor")
TODAY = date.today()


@dataclass
class Built:
    store: Store
    ids: dict[str, str] = field(default_factory=dict)
    referrals: dict[str, str] = field(default_factory=dict)  # derived status -> referral id


def build(path: Path) -> Built:
    store = Store(path, os.urandom(32), device_id="f" * 32)
    clinic = Clinic(store, SUPERVISOR)
    built = Built(store)
    ids = built.ids
    ids["hong"] = clinic.register({"given_name": "Hồng", "other_names": "Thị", "family_name": "Nguyễn", "sex": "female",
                                   "birth_date": "1961-03-07", "birth_date_estimated": True, "phone": "0912345678",
                                   "identifiers": {"national": "079123456789", "staff": "ST-1"}, "locality": "Vĩnh Châu",
                                   "name_order": "family-first"}).patient_id
    ids["salem"] = clinic.register({"given_name": "سالم", "family_name": "الحسن", "sex": "male",
                                    "birth_date": "1980-05-02", "identifiers": {"staff": "HMS-01234"}}).patient_id
    ids["duplicate"] = clinic.register({"given_name": "Salem", "family_name": "Hassan", "sex": "male"}).patient_id
    clinic.merge(ids["duplicate"], ids["salem"])
    ids["voided"] = clinic.register({"given_name": "Test", "sex": "unknown"}).patient_id
    clinic.void(ids["voided"], "registered by mistake")

    recorded = clinic.record_encounter({
        "patient_id": ids["hong"], "kind": "teletriage",
        "vitals": {"temperature_c": 38.9, "pulse": 118, "resp_rate": 26, "spo2": 91, "systolic_bp": 96, "avpu": "A",
                   "weight_kg": 52.5, "glucose": 7.2, "glucose_unit": "mmol/L"},
        "diagnoses": [{"code": "J18.9", "text": "pneumonia"}, {"text": "dehydration"}],
        "prescriptions": [{"drug": "amoxicillin", "dose": "1 g", "route": "oral", "frequency": "tds", "duration_days": 5},
                          {"drug": "ORS"}]})
    ids["encounter"] = recorded.encounter_id
    mistaken = clinic.record_encounter({"patient_id": ids["salem"], "kind": "visit",
                                        "vitals": {"systolic_bp": 120, "diastolic_bp": 80, "muac_mm": 260},
                                        "diagnoses": [{"code": "I10"}], "prescriptions": [{"drug": "amlodipine"}]})
    ids["in_error"] = mistaken.encounter_id
    clinic.entered_in_error(mistaken.encounter_id, "wrong patient")

    def refer(**extra) -> str:
        return clinic.run(referral_services.refer, {"patient_id": ids["hong"], "encounter_id": ids["encounter"],
                                                    "to_facility": "EG-BNH-UH", "urgency": "urgent", "reason": "pneumonia",
                                                    "reason_code": "J18.9", **extra})

    def event(referral_id: str, kind: str, **extra) -> None:
        clinic.run(referral_services.record_event, referral_id, {"type": kind, **extra})

    built.referrals["requested"] = refer()
    built.referrals["sent"] = refer(urgency="emergency")
    event(built.referrals["sent"], "sent")
    built.referrals["completed"] = refer(urgency="routine")
    for kind in ("sent", "arrived"):
        event(built.referrals["completed"], kind)
    event(built.referrals["completed"], "feedback", findings="lobar pneumonia", recommendations="amoxicillin 7 days")
    built.referrals["not_attended"] = refer()
    event(built.referrals["not_attended"], "not_attended", reason="transport")

    ids["enrolment"] = clinic.run(enrolments.enrol, {"patient_id": ids["hong"], "programme": "home-triage"})
    clinic.run(enrolments.move, ids["enrolment"], "paused")

    ids["round"] = clinic.run(screening.create_round, {"name": "Homs staff 2026", "tests": ["hbsag", "anti-hbs"],
                                                       "starts": (TODAY - timedelta(days=30)).isoformat()})
    collected = (TODAY - timedelta(days=20)).isoformat()
    ids["anti_hbs"] = clinic.run(labs.record, {
        "patient_id": ids["salem"], "test": "anti-hbs", "value": "4.50", "unit": "mIU/mL", "sample_id": "HMS-S1",
        "collected": collected, "issued": (TODAY - timedelta(days=18)).isoformat(), "lab": "Homs central lab",
        "round_id": ids["round"]})
    ids["hbsag"] = clinic.run(labs.record, {
        "patient_id": ids["salem"], "test": "hbsag", "value": "negative", "sample_id": "HMS-S1", "collected": collected,
        "round_id": ids["round"]})
    ids["corrected"] = clinic.run(labs.record, {
        "patient_id": ids["hong"], "test": "anti-hbs", "value": "120", "unit": "m[IU]/mL", "sample_id": "HMS-S2",
        "collected": collected, "round_id": ids["round"], "range": "10-1000"})
    clinic.run(labs.correct, ids["corrected"], "12.0", reason="transcription error")

    ids["dose1"] = clinic.run(immunizations.give, {"patient_id": ids["salem"], "vaccine": "hepb-adult",
                                                   "occurred": (TODAY - timedelta(days=200)).isoformat(), "lot": "HB-1",
                                                   "lot_expiry": (TODAY + timedelta(days=300)).isoformat()}).id
    ids["dose2"] = clinic.run(immunizations.give, {"patient_id": ids["salem"], "vaccine": "hepb-adult",
                                                   "occurred": (TODAY - timedelta(days=160)).isoformat(),
                                                   "lot": "HB-1"}).id
    ids["out_of_stock"] = clinic.run(immunizations.not_given, {"patient_id": ids["salem"], "vaccine": "hepb-adult",
                                                               "reason": "out-of-stock"}).id
    ids["historical"] = clinic.run(immunizations.historical, {"patient_id": ids["hong"], "vaccine": "hepb-adult",
                                                              "occurred": "2019"}).id
    ids["historical_month"] = clinic.run(immunizations.historical, {"patient_id": ids["hong"], "vaccine": "hepb-adult",
                                                                    "occurred": "2019-08"}).id
    ids["not_given"] = clinic.run(immunizations.not_given, {"patient_id": ids["hong"], "vaccine": "hepb-adult",
                                                            "reason": "refused"}).id
    ids["dose_error"] = clinic.run(immunizations.give, {"patient_id": ids["hong"], "vaccine": "hepb-adult",
                                                        "lot": "HB-2"}).id
    clinic.run(immunizations.entered_in_error, ids["dose_error"], "recorded twice")
    return built
