"""`fieldkit patient …`: register, find, show and edit patients."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import click

from fieldkit.cli.context import Context, emit, json_option


def patient_options(required: bool):
    def decorate(command):
        options = [
            click.option("--given", "given_name", required=required, help="Given name (any script)."),
            click.option("--family", "family_name", help="Family name."),
            click.option("--other", "other_names", help="Middle, father's or grandfather's names."),
            click.option("--sex", type=click.Choice(["female", "male", "other", "unknown"])),
            click.option("--birth-date", help="YYYY-MM-DD."),
            click.option("--age", help="Age in years when the birth date is unknown (estimated)."),
            click.option("--phone"),
            click.option("--id", "identifiers", multiple=True, metavar="SYSTEM=VALUE", help="An identifier, e.g. national=123."),
            click.option("--locality"),
            click.option("--allergy", "allergies", multiple=True, help="Repeat for several allergies."),
        ]
        for option in reversed(options):
            command = option(command)
        return command
    return decorate


def patient_input(values: dict[str, Any]) -> dict[str, Any]:
    from fieldkit.errors import FieldkitError
    from fieldkit.records.models import estimated_birth

    data = {k: v for k, v in values.items() if v not in (None, (), "")}
    if "identifiers" in data:
        pairs = [item.partition("=") for item in data["identifiers"]]
        if any(not sep or not system for system, sep, _ in pairs):
            raise FieldkitError("--id takes SYSTEM=VALUE, for example --id national=29801011234567")
        data["identifiers"] = {system: value for system, _, value in pairs}
    if "allergies" in data:
        data["allergies"] = list(data["allergies"])
    if "age" in data and "birth_date" in data:
        raise FieldkitError("give either --birth-date or --age, not both")
    if "birth_date" in data:
        data["birth_date_estimated"] = False  # a known date replaces an estimate
    if "age" in data:
        data.update(estimated_birth(data.pop("age")))
    return data


@click.group()
def patient() -> None:
    """Register, find, show and edit patients."""


@patient.command("add")
@patient_options(required=True)
@click.option("--reason", default="", help="Why register although likely duplicates were found.")
@json_option
@click.pass_obj
def patient_add(context: Context, reason: str, as_json: bool, **values: Any) -> None:
    """Register a patient; likely duplicates are reported as a warning, never a block."""
    data = patient_input(values)
    clinic = context.clinic()
    with clinic.store:
        result = clinic.register(data, reason=reason)
    duplicates = [{"id": m.patient.id, "name": m.patient.full_name, "score": m.score, "reasons": list(m.reasons)}
                  for m in result.duplicates]
    for m in result.duplicates:
        click.echo(f"warning: possible duplicate {m.patient.id} {m.patient.full_name} ({', '.join(m.reasons)})", err=True)
    emit({"id": result.patient_id, "possible_duplicates": duplicates}, as_json, result.patient_id)


@patient.command("search")
@click.argument("query", nargs=-1, required=True)
@click.option("--limit", default=20, show_default=True)
@json_option
@click.pass_obj
def patient_search(context: Context, query: tuple[str, ...], limit: int, as_json: bool) -> None:
    """Find patients by any part of a name (any script), an identifier or a phone number."""
    from fieldkit.records.search import search

    store, _ = context.open()
    with store:
        found = store.read(lambda conn: search(conn, " ".join(query), limit=limit))
    rows = [vars(p) | {"name": p.full_name} for p in found]
    emit(rows, as_json, "\n".join(f"{p.id}  {p.full_name}  {p.sex}  {p.birth_date}{'~' if p.birth_date_estimated else ''}"
                                  f"  {p.locality}" for p in found) or "no patient found")


@patient.command("show")
@click.argument("patient_id")
@json_option
@click.pass_obj
def patient_show(context: Context, patient_id: str, as_json: bool) -> None:
    """Show a patient's record (opening it is audited)."""
    from fieldkit.records.queries import open_patient

    store, user = context.open()
    with store:
        record = store.write(lambda tx: open_patient(tx, user, patient_id))
    emit(record, as_json, _describe_patient(record))


def _describe_patient(record: dict[str, Any]) -> str:
    """The record as text: who, every allergy (those of merged records marked), open and closed
    follow-ups and referrals, encounters with their diagnoses, prescriptions and corrections."""
    from fieldkit.records.names import full_name
    from fieldkit.records.queries import every_allergy

    disputed = record["disputed"]
    own = record["id"]

    def field(name: str, current: str, render: Callable[[Any], str]) -> str:
        """The field's value, or both values side by side while a supervisor has not settled them."""
        return "DISPUTED " + " | ".join(render(v) for v in disputed[name]) if name in disputed else current

    def ids(identifiers: dict[str, str] | None) -> str:
        return ", ".join(f"{system} {value}" for system, value in (identifiers or {}).items()) or "none"

    def under(patient_id: str) -> str:
        """Where an item of a merged record came from; nothing for the record's own."""
        return "" if patient_id == own else f"  [from merged {patient_id}]"

    born = field("birth_date", f"{record.get('birth_date') or '?'}{' estimated' if record.get('birth_date_estimated') else ''}",
                 lambda v: v or "?")
    sex = field("sex", record.get("sex") or "unknown", lambda v: v or "unknown")
    lines = [f"{full_name(record)}  ({sex}, born {born})",
             f"id {record['id']}  phone {record.get('phone') or '-'}  locality {record.get('locality') or '-'}",
             f"identifiers {field('identifiers', ids(record.get('identifiers')), ids)}"]
    for part in every_allergy(record):
        allergies = (" | ".join(", ".join(v or []) or "none" for v in part["disputed"]) if part["disputed"] is not None
                     else ", ".join(part["allergies"]))
        lines.append(f"ALLERGIES: {'DISPUTED ' if part['disputed'] is not None else ''}{allergies}{under(part['patient_id'])}")
    if record.get("merged_into"):
        lines.append(f"merged into {record['merged_into']}: record new encounters there")
    for other in record.get("merged", ()):
        lines.append(f"merged here: {other['id']}  {full_name(other)}  phone {other.get('phone') or '-'}  "
                     f"identifiers {ids(other.get('identifiers'))}  (undo: fieldkit patient unmerge {other['id']})")
    if record["followups"]:
        lines.append("follow-ups:")
    for task in record["followups"]:
        lines.append(f"  {task['due']}  {task['status']}  {task['reason'] or '-'}{under(task['patient_id'])}")
    if record["referrals"]:
        lines.append("referrals:")
    for task in record["referrals"]:
        lines.append(f"  {task['number'] or ''} to {task['to_name']}  {task['urgency']}  {task['status']}  {task['reason'] or '-'}"
                     f"{under(task['patient_id'])}")
    if record["encounters"]:
        lines.append("encounters:")
    for encounter in record["encounters"]:
        score = encounter.get("scores", {}).get("news2", {})
        lines.append(f"  {encounter['at']}  {encounter.get('kind')}  NEWS2 {score.get('total', '-')} ({score.get('band', '-')})"
                     f"{'  ENTERED IN ERROR' if encounter['entered_in_error'] else ''}{under(encounter['patient_id'])}")
        for diagnosis in encounter.get("diagnoses", []):
            lines.append(f"    diagnosis {' '.join(filter(None, (diagnosis.get('code'), diagnosis.get('text'))))}")
        for drug in encounter.get("prescriptions", []):
            days = f"{drug['duration_days']} days" if drug.get("duration_days") else ""
            parts = (drug.get("drug"), drug.get("dose"), drug.get("route"), drug.get("frequency"), days)
            lines.append(f"    prescription {' '.join(filter(None, parts))}")
        if encounter.get("notes"):
            lines.append(f"    note {encounter['notes']}")
        for correction in encounter.get("amendments", []):
            said = correction.get("note") or correction.get("reason") or ""
            kind = "amended" if correction["kind"] == "amend" else "entered in error"
            lines.append(f"    {kind} {correction['at']} by {correction.get('author_name') or correction['author']}: {said}")
    for conflict in record["conflicts"]:
        lines.append(f"  conflict on {conflict['field']}: "
                     + " vs ".join(json.dumps(c['value'], ensure_ascii=False) for c in conflict["candidates"])
                     + under(conflict["patient_id"]))
    return "\n".join(lines)


@patient.command("unmerge")
@click.argument("patient_id")
@click.pass_obj
def patient_unmerge(context: Context, patient_id: str) -> None:
    """Undo a merge: the record merged into another is a record of its own again (a supervisor)."""
    from fieldkit.records.queries import patient_fields

    clinic = context.clinic()
    with clinic.store:
        was = clinic.store.read(lambda conn: (patient_fields(conn, patient_id) or {}).get("merged_into"))
        clinic.unmerge(patient_id)
    click.echo(f"{patient_id} is a record of its own again; it was merged into {was}")


@patient.command("edit")
@click.argument("patient_id")
@patient_options(required=False)
@click.pass_obj
def patient_edit(context: Context, patient_id: str, **values: Any) -> None:
    """Change demographics; only the fields given change."""
    from fieldkit.errors import FieldkitError

    data = patient_input(values)
    if not data:
        raise FieldkitError("nothing to change: give at least one field option")
    clinic = context.clinic()
    with clinic.store:
        changed = clinic.edit(patient_id, data)
    click.echo(f"changed {', '.join(changed)}" if changed else "nothing changed")
