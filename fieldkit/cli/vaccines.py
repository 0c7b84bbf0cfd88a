"""`fieldkit vaccine`: give, not given, given elsewhere, entered in error; a person's card; who is
due; vaccine lots; the schedules and vaccines this clinic knows."""

from __future__ import annotations

from datetime import date
from typing import Any

import click

from fieldkit.cli.context import Context, emit, json_option


def _given(given: Any, as_json: bool) -> None:
    for warning in given.warnings:
        click.echo(f"warning: {warning}", err=True)
    emit({"id": given.id, "dose_number": given.dose_number, "round": given.round, "warnings": list(given.warnings),
          "flags": list(given.flags)}, as_json,
         f"{given.id}  dose {given.dose_number}" + (f" of series {given.round}" if given.round > 1 else "")
         + "".join(f"  [{flag}]" for flag in given.flags))


def _options(**values: Any) -> dict[str, Any]:
    return {name: value for name, value in values.items() if value not in (None, "")}


@click.group()
def vaccine() -> None:
    """Vaccinations: doses, schedules, who is due, lots."""


@vaccine.command("give")
@click.argument("patient_id")
@click.argument("vaccine_code", metavar="VACCINE")
@click.option("--date", "occurred", help="The day it was given (default today).")
@click.option("--lot")
@click.option("--lot-expiry", help="The lot's expiry, for a lot not in the lot list.")
@click.option("--site")
@click.option("--route")
@click.option("--dose", "dose_number", type=int, help="The dose number (checked against the series).")
@click.option("--early-reason", default="", help="Why a dose below its minimum interval or age is given.")
@click.option("--expired-reason", default="", help="Why a dose is given from an expired lot.")
@click.option("--given-by", default="")
@click.option("--consent-by", default="")
@click.option("--note", default="")
@json_option
@click.pass_obj
def give(context: Context, patient_id: str, vaccine_code: str, as_json: bool, **typed: Any) -> None:
    """Record a dose given here; prints its id and dose number, warnings on stderr."""
    from fieldkit.records import immunizations

    clinic = context.clinic()
    with clinic.store:
        given = clinic.run(immunizations.give, {"patient_id": patient_id, "vaccine": vaccine_code, **_options(**typed)})
    _given(given, as_json)


@vaccine.command("not-given")
@click.argument("patient_id")
@click.argument("vaccine_code", metavar="VACCINE")
@click.option("--reason", required=True, type=click.Choice(["contraindication", "refused", "out-of-stock", "absent",
                                                            "other"]))
@click.option("--text", "reason_text", default="", help="What “other” means.")
@click.option("--date", "occurred", help="The day it was due and not given (default today).")
@click.option("--dose", "dose_number", type=int)
@click.option("--note", default="")
@json_option
@click.pass_obj
def not_given(context: Context, patient_id: str, vaccine_code: str, as_json: bool, **typed: Any) -> None:
    """Record that a due dose was not given, and why."""
    from fieldkit.records import immunizations

    clinic = context.clinic()
    with clinic.store:
        given = clinic.run(immunizations.not_given, {"patient_id": patient_id, "vaccine": vaccine_code,
                                                     **_options(**typed)})
    _given(given, as_json)


@vaccine.command("historical")
@click.argument("patient_id")
@click.argument("vaccine_code", metavar="VACCINE")
@click.option("--date", "occurred", required=True, help="A day, or a month (05/2019) or a year (2019).")
@click.option("--dose", "dose_number", type=int)
@click.option("--lot", default="")
@click.option("--where", "location", default="", help="Where it was given.")
@click.option("--note", default="")
@json_option
@click.pass_obj
def historical(context: Context, patient_id: str, vaccine_code: str, as_json: bool, **typed: Any) -> None:
    """Record a dose given elsewhere (from a card or memory): no lot needed."""
    from fieldkit.records import immunizations

    clinic = context.clinic()
    with clinic.store:
        given = clinic.run(immunizations.historical, {"patient_id": patient_id, "vaccine": vaccine_code,
                                                      **_options(**typed)})
    _given(given, as_json)


@vaccine.command("error")
@click.argument("immunization_id", metavar="ID")
@click.option("--reason", required=True)
@click.pass_obj
def error(context: Context, immunization_id: str, reason: str) -> None:
    """Mark a record entered in error: it stays, marked, and leaves the due calculation."""
    from fieldkit.records import immunizations

    clinic = context.clinic()
    with clinic.store:
        clinic.run(immunizations.entered_in_error, immunization_id, reason)
    click.echo(f"{immunization_id} entered in error")


def _state_line(state: dict[str, Any]) -> str:
    when = state["given"] or state["due"] or state["earliest"] or ""
    late = f" ({state['days_overdue']} days)" if state["days_overdue"] else ""
    flags = "".join(f"  [{flag}]" for flag in state["flags"])
    if state["recorded_number"]:
        flags += f"  [recorded as dose {state['recorded_number']}]"
    series = f" (series {state['round']})" if state["round"] > 1 else ""
    return f"  {state['series_name']:<28} dose {state['number']}{series}  {state['state']}{late}  {when}{flags}"


@vaccine.command("list")
@click.argument("patient_id")
@json_option
@click.pass_obj
def list_doses(context: Context, patient_id: str, as_json: bool) -> None:
    """A person's doses, each schedule's state and the immunity its test shows."""
    from fieldkit.records import vaccine_lists

    store, _user = context.open()
    with store:
        shown = store.read(lambda conn: vaccine_lists.card(conn, patient_id, today=date.today()))
    lines = [f"{shown['name']}  born {shown['birth_date'] or '?'}", "records:"]
    lines += [f"  {r['occurred']:<10}  {r['vaccine']:<11} dose {r['dose_number'] or '-'}  {r['status']}"
              + (f"  lot {r['lot']}" if r["lot"] else "") + (f"  ({r['reason']})" if r["reason"] else "") + f"  {r['id']}"
              for r in shown["records"]] or ["  none"]
    for card in shown["schedules"]:
        lines.append(f"{card['name']} ({card['schedule']}):")
        lines += [_state_line(state) for state in card["doses"]]
        for status in card["immunity"]:
            lines.append(f"  immunity: {status['state']}")
            lines += [f"    {line}" for line in status["evidence"]]
    emit(shown, as_json, "\n".join(lines))


@vaccine.command("due")
@click.argument("schedule_id", metavar="SCHEDULE")
@click.option("--overdue", "overdue_only", is_flag=True, help="Only the overdue.")
@json_option
@click.pass_obj
def due(context: Context, schedule_id: str, overdue_only: bool, as_json: bool) -> None:
    """Who is due a dose (or a test) under a schedule, most overdue first."""
    from dataclasses import asdict

    from fieldkit.records import vaccine_lists

    store, _user = context.open()
    with store:
        found = store.read(lambda conn: vaccine_lists.due_list(conn, schedule_id, today=date.today(),
                                                               overdue_only=overdue_only))
    rows = [asdict(row) for row in found]
    emit(rows, as_json, "\n".join(
        f"{r['name']:<24} {r['phone']:<13} {'test' if r['dose'] is None else 'dose ' + str(r['dose'])}"
        f"{' (series 2)' if r['round'] > 1 else ''}  {r['state']}"
        f"{' ' + str(r['days_overdue']) + ' days' if r['days_overdue'] else ''}  due {r['due'] or 'now'}  {r['patient_id']}"
        for r in rows) or "nobody is due")


@vaccine.group("lot")
def lot() -> None:
    """Vaccine lots and their expiry."""


@lot.command("add")
@click.argument("vaccine_code", metavar="VACCINE")
@click.argument("lot_number", metavar="LOT")
@click.option("--expiry", required=True)
@click.option("--manufacturer", default="")
@click.pass_obj
def lot_add(context: Context, vaccine_code: str, lot_number: str, expiry: str, manufacturer: str) -> None:
    """Add a lot to the lot list."""
    from fieldkit.records import immunizations

    clinic = context.clinic()
    with clinic.store:
        click.echo(clinic.run(immunizations.add_lot, {"vaccine": vaccine_code, "lot": lot_number, "expiry": expiry,
                                                      "manufacturer": manufacturer}))


@vaccine.command("lots")
@click.option("--vaccine", "vaccine_code", help="Only this vaccine's.")
@json_option
@click.pass_obj
def lots(context: Context, vaccine_code: str | None, as_json: bool) -> None:
    """The lot list; expired lots stay listed (old records name them), marked."""
    from fieldkit.records import immunizations, vaccines

    store, _user = context.open()
    code = vaccines.vaccine(vaccine_code).code if vaccine_code else None
    with store:
        found = store.read(lambda conn: immunizations.lots(conn, code))
    emit(found, as_json, "\n".join(f"{r['vaccine']:<11} {r['lot']:<16} expires {r['expiry']}"
                                   f"{'  EXPIRED' if r['expired'] else ''}  {r['manufacturer']}" for r in found)
         or "no lot listed")


@vaccine.command("schedules")
@json_option
@click.pass_obj
def list_schedules(context: Context, as_json: bool) -> None:
    """The schedules this clinic knows (shipped, plus the site's schedules/*.toml)."""
    from fieldkit.records import schedules, site

    site.use(context.home.path)
    found = schedules.schedules()
    emit({sid: s.model_dump(mode="json") for sid, s in found.items()}, as_json, "\n".join(
        f"{s.id:<16} v{s.version}  {s.name}: " + ", ".join(f"{series.name} ×{len(series.doses)}" for series in s.series)
        for s in found.values()))


@vaccine.command("codes")
@json_option
@click.pass_obj
def codes(context: Context, as_json: bool) -> None:
    """The vaccines this clinic knows, with their ICD-11 and ATC codes."""
    from fieldkit.records import site, vaccines

    site.use(context.home.path)
    found = vaccines.vaccines()
    emit({code: v.model_dump(mode="json") for code, v in found.items()}, as_json, "\n".join(
        f"{v.code:<11} {v.icd11:<7} {v.atc:<8} {v.name}" for v in found.values()))
