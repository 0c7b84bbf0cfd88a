"""`fieldkit encounter add`: vitals in, NEWS2 and qSOFA out."""

from __future__ import annotations

from typing import Any

import click

from fieldkit.cli.context import Context, emit, json_option


@click.group()
def encounter() -> None:
    """Record encounters."""


@encounter.command("add")
@click.argument("patient_id")
@click.option("--kind", type=click.Choice(["visit", "teletriage", "home", "screening", "vaccination"]), default="visit")
@click.option("--temp", "temperature_c", help="Temperature, °C.")
@click.option("--pulse", help="Pulse, /min.")
@click.option("--rr", "resp_rate", help="Respiratory rate, /min.")
@click.option("--sbp", "systolic_bp", help="Systolic blood pressure, mmHg.")
@click.option("--dbp", "diastolic_bp", help="Diastolic blood pressure, mmHg.")
@click.option("--spo2", help="Oxygen saturation, %.")
@click.option("--oxygen", "on_oxygen", is_flag=True, help="On supplemental oxygen.")
@click.option("--avpu", type=click.Choice(["A", "C", "V", "P", "U"]), help="Consciousness (C = new confusion).")
@click.option("--weight", "weight_kg", help="Weight, kg.")
@click.option("--height", "height_cm", help="Height, cm.")
@click.option("--muac", "muac_mm", help="Mid-upper arm circumference, mm.")
@click.option("--glucose", help="Blood glucose (unit from --glucose-unit).")
@click.option("--glucose-unit", type=click.Choice(["mg/dL", "mmol/L"]), default="mg/dL")
@click.option("--hypercapnic", is_flag=True, help="Use NEWS2 SpO2 scale 2 (target 88-92%).")
@click.option("--diagnosis", multiple=True, metavar="[CODE:]TEXT", help="E.g. 'J18.9:pneumonia'. Repeatable.")
@click.option("--rx", multiple=True, metavar="DRUG[;DOSE;ROUTE;FREQUENCY;DAYS]", help="A prescription. Repeatable.")
@click.option("--refer-to", help="Facility to refer to.")
@click.option("--refer-reason", default="", help="Reason for the referral.")
@click.option("--urgency", type=click.Choice(["routine", "urgent", "emergency"]), default="routine")
@click.option("--follow-up", "follow_up", help="Follow-up due date, YYYY-MM-DD.")
@click.option("--notes", default="")
@json_option
@click.pass_obj
def encounter_add(context: Context, patient_id: str, kind: str, diagnosis: tuple[str, ...], rx: tuple[str, ...],
                  refer_to: str | None, refer_reason: str, urgency: str, follow_up: str | None, notes: str,
                  hypercapnic: bool, as_json: bool, **vitals: Any) -> None:
    """Record an encounter: vitals in, NEWS2 and qSOFA out."""
    from fieldkit.records.models import diagnosis_from_text, prescription_from_text

    data: dict[str, Any] = {
        "patient_id": patient_id, "kind": kind, "notes": notes, "hypercapnic": hypercapnic,
        "vitals": {k: v for k, v in vitals.items() if v not in (None, False)},
        "diagnoses": [diagnosis_from_text(item) for item in diagnosis],
        "prescriptions": [prescription_from_text(item) for item in rx],
    }
    if refer_to:
        data["referral"] = {"to_facility": refer_to, "reason": refer_reason, "urgency": urgency}
    if follow_up:
        data["follow_up"] = {"due": follow_up}
    clinic = context.clinic()
    with clinic.store:
        recorded = clinic.record_encounter(data)
    scores = {name: {"total": s.total, "band": s.band, "parts": s.parts, "complete": s.complete,
                     "missing": list(s.missing), "version": s.version}
              for name, s in (("news2", recorded.news2), ("qsofa", recorded.qsofa))}
    parts = ", ".join(f"{k} {v}" for k, v in recorded.news2.parts.items())
    for warning in recorded.warnings:
        click.echo(f"warning: {warning}", err=True)
    emit({"id": recorded.encounter_id, **scores, "warnings": list(recorded.warnings)}, as_json,
         f"{recorded.encounter_id}\n{recorded.news2.summary}  [{parts}]"
         f"{'' if recorded.news2.complete else '  incomplete: ' + ', '.join(recorded.news2.missing)}\n"
         f"{recorded.qsofa.summary}")
