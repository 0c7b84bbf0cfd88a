"""`fieldkit programme`: enrol, check in, the day's worklist, escalations, and the registry's counts."""

from __future__ import annotations

from datetime import date
from typing import Any

import click

from fieldkit.cli.context import Context, emit, json_option
from fieldkit.cli.reports import write_rows


@click.group()
def programme() -> None:
    """Programmes: cohorts followed day by day, registries, visiting missions."""


@programme.command("list")
@json_option
@click.pass_obj
def list_programmes(context: Context, as_json: bool) -> None:
    """The programmes this clinic runs (shipped, plus the site's programmes/*.toml)."""
    from fieldkit.records import enrolments, site

    site.use(context.home.path)
    found = enrolments.programmes()
    emit({pid: p.model_dump(mode="json") for pid, p in found.items()}, as_json,
         "\n".join(f"{p.id:<18} v{p.version}  {p.kind:<8} {p.name}  outcomes: {', '.join(o.code for o in p.outcomes)}"
                   for p in found.values()))


@programme.command("enrol")
@click.argument("patient_id")
@click.argument("programme_id", metavar="PROGRAMME")
@click.option("--set", "attributes", multiple=True, metavar="NAME=VALUE", help="An attribute. Repeatable.")
@click.option("--on", "enrolled_on", help="Enrolment day (default today).")
@click.option("--team", default="")
@click.pass_obj
def enrol(context: Context, patient_id: str, programme_id: str, attributes: tuple[str, ...], enrolled_on: str | None,
          team: str) -> None:
    """Enrol a patient; a second active enrolment where the programme allows one is refused."""
    from fieldkit.records import enrolments

    values = dict(item.split("=", 1) for item in attributes if "=" in item)
    if len(values) != len(attributes):
        raise click.BadParameter("each --set is NAME=VALUE", param_hint="--set")
    clinic = context.clinic()
    with clinic.store:
        enrolment_id = clinic.run(enrolments.enrol, {
            "patient_id": patient_id, "programme": programme_id, "attributes": values, "team": team,
            **({"enrolled_on": enrolled_on} if enrolled_on else {})})
    click.echo(enrolment_id)


@programme.command("move")
@click.argument("enrolment_id")
@click.argument("status", type=click.Choice(["paused", "active", "completed", "cancelled"]))
@click.option("--outcome", default="", help="completed: one of the programme's outcomes.")
@click.option("--on", "on", help="The day it happened (default today).")
@click.option("--reason", default="", help="cancelled: why.")
@click.pass_obj
def move(context: Context, enrolment_id: str, status: str, outcome: str, on: str | None, reason: str) -> None:
    """Pause (in hospital), resume, close with an outcome, or cancel."""
    from fieldkit.records import enrolments

    clinic = context.clinic()
    with clinic.store:
        clinic.run(enrolments.move, enrolment_id, status, outcome=outcome, on=on, reason=reason)
    click.echo(f"{enrolment_id} {status}")


@programme.command("checkin")
@click.argument("enrolment_id")
@click.option("--day", default=None, help="The day it belongs to (default today).")
@click.option("--spo2")
@click.option("--rr", "resp_rate")
@click.option("--pulse")
@click.option("--temp", "temperature_c")
@click.option("--symptom", "symptoms", multiple=True, help="A symptom code (see --help of alerts). Repeatable.")
@click.option("--phone", "by_phone", is_flag=True, help="Done by phone.")
@click.option("--note", default="")
@json_option
@click.pass_obj
def checkin(context: Context, enrolment_id: str, day: str | None, symptoms: tuple[str, ...], as_json: bool,
            **readings: Any) -> None:
    """Record a daily check-in; prints the alert level (none, amber, red) and why."""
    from fieldkit.records import enrolments, programme_lists

    clinic = context.clinic()
    with clinic.store:
        checkin_id, level = clinic.run(enrolments.check_in, {
            "enrolment_id": enrolment_id, "day": day or date.today().isoformat(), "symptoms": list(symptoms),
            **{k: v for k, v in readings.items() if v not in (None, "")}})
        [saved] = [c for c in clinic.store.read(lambda conn: programme_lists.checkins_of(conn, enrolment_id))
                   if c["id"] == checkin_id]
    emit(saved, as_json, f"{checkin_id}  {level}" + "".join(f"\n  {reason}" for reason in saved["reasons"]))


def _followed(item: Any) -> dict[str, Any]:
    standing = item.standing
    return {"enrolment_id": item.enrolment_id, "patient_id": item.patient_id, "name": item.patient_name,
            "phone": item.phone, "programme": item.programme, "team": item.team, "status": item.status,
            "next_due": standing.next_due.isoformat() if standing.next_due else "", "days_overdue": standing.days_overdue,
            "missed": len(standing.missed), "misses_in_a_row": standing.misses_in_a_row, "done": standing.done,
            "expected": standing.expected, "last_alert": item.last_alert}


@programme.command("worklist")
@click.option("--programme", "programme_id", help="Only this programme.")
@click.option("--team", help="Only this team.")
@click.option("--missed", is_flag=True, help="Instead: patients who missed two check-ins in a row.")
@click.option("--ready", is_flag=True, help="Instead: enrolments whose plan has ended, ready to close.")
@json_option
@click.option("--csv", "csv_path", type=click.Path(dir_okay=False))
@click.pass_obj
def worklist(context: Context, programme_id: str | None, team: str | None, missed: bool, ready: bool, as_json: bool,
             csv_path: str | None) -> None:
    """Today's due and overdue check-ins, highest risk first, then most days overdue."""
    from fieldkit.records import programme_lists

    store, _user = context.open()
    today = date.today()
    with store:
        if missed:
            found = store.read(lambda conn: programme_lists.missed_twice(conn, today, programme=programme_id))
        elif ready:
            found = store.read(lambda conn: programme_lists.ready_to_close(conn, today, programme=programme_id))
        else:
            found = store.read(lambda conn: programme_lists.worklist(conn, today, programme=programme_id, team=team))
    rows = [_followed(item) for item in found]
    if csv_path:
        write_rows(csv_path, rows, list(rows[0]) if rows else ["enrolment_id"], context.home.path)
    lines = []
    for r in rows:
        late = f" ({r['days_overdue']} overdue)" if r["days_overdue"] else ""
        lines.append(f"{r['name']:<24} {r['phone']:<13} {r['last_alert'] or '-':<6} due {r['next_due'] or '-'}{late}"
                     f"  missed {r['missed']}  {r['enrolment_id']}")
    emit(rows, as_json, "\n".join(lines) or "nothing due")


@programme.command("escalations")
@json_option
@click.pass_obj
def escalations(context: Context, as_json: bool) -> None:
    """Red check-ins waiting for a doctor."""
    from fieldkit.records import programme_lists

    store, _user = context.open()
    with store:
        found = store.read(programme_lists.escalations)
    emit(found, as_json, "\n".join(f"{e['id']}  {e['day']}  {e['patient_name']}: {'; '.join(e['reasons'])}"
                                   for e in found) or "no escalation waiting")


@programme.command("transfer")
@click.argument("checkin_id")
@click.option("--to", "to_facility", required=True, help="The hospital (code or name).")
@click.option("--reason", required=True)
@click.pass_obj
def transfer(context: Context, checkin_id: str, to_facility: str, reason: str) -> None:
    """Take a red check-in on: an urgent transfer referral, the enrolment paused (in hospital)."""
    from fieldkit.records import enrolments

    clinic = context.clinic()
    with clinic.store:
        click.echo(clinic.run(enrolments.transfer, checkin_id, to_facility, reason))


@programme.command("keep-home")
@click.argument("checkin_id")
@click.option("--note", required=True, help="Why the patient stays at home.")
@click.pass_obj
def keep_home(context: Context, checkin_id: str, note: str) -> None:
    """A red check-in reviewed: no transfer, and why."""
    from fieldkit.records import enrolments

    clinic = context.clinic()
    with clinic.store:
        clinic.run(enrolments.no_transfer, checkin_id, note)
    click.echo(f"{checkin_id} reviewed")


@programme.command("report")
@click.argument("programme_id", metavar="PROGRAMME", required=False)
@click.option("--referrals", is_flag=True, help="Report referrals instead of a programme's enrolments.")
@click.option("--by", help="Group by this column (status, outcome, an attribute such as destination_country).")
@click.option("--unit", type=click.Choice(["patients", "enrolments", "referrals"]), help="What the counts count.")
@click.option("--where", "filters", multiple=True, metavar="COLUMN=VALUE", help="Keep rows with this value. Repeatable.")
@json_option
@click.option("--csv", "csv_path", type=click.Path(dir_okay=False), help="Write the line list to this CSV file.")
@click.pass_obj
def report(context: Context, programme_id: str | None, referrals: bool, by: str | None, unit: str | None,
           filters: tuple[str, ...], as_json: bool, csv_path: str | None) -> None:
    """A programme's line list and counts (or the referrals'), saying what each count counts."""
    from fieldkit.records import registry

    where = dict(item.split("=", 1) for item in filters if "=" in item)
    if not referrals and not programme_id:
        raise click.UsageError("name a PROGRAMME, or give --referrals")
    store, _user = context.open()
    with store:
        rows = store.read(lambda conn: registry.referral_rows(conn, where=where) if referrals
                          else registry.line_list(conn, programme_id or "", where=where))
    unit = unit or ("referrals" if referrals else "patients")
    made = registry.report(rows, title="referrals" if referrals else f"programme {programme_id}", by=by, unit=unit,
                           parameters={"where": where, "by": by, "unit": unit}, on=date.today())
    if csv_path:
        write_rows(csv_path, rows, registry.columns_of(rows, registry.REFERRAL_COLUMNS if referrals
                                                       else registry.ENROLMENT_COLUMNS), context.home.path)
    text = [f"{made['report']}: {len(rows)} rows ({made['generated']})"]
    if by:
        counted = made["counts"]
        text.append(f"{counted['unit']} by {by}: {counted['total']}")
        text += [f"  {value:<28} {n}" for value, n in counted["groups"].items()]
    emit(made, as_json, "\n".join(text))
