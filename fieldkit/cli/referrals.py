"""`fieldkit referral`: refer, record what happened to a referral, list them, settle a dispute.

`fieldkit referral here CODE` names the facility this laptop works at: it is stamped on every
referral and event recorded here, and a hospital's desk lists "referrals to us" by it.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import click

from fieldkit.cli.context import Context, emit, json_option
from fieldkit.cli.reports import write_rows

URGENCIES = click.Choice(["routine", "urgent", "emergency"])
EVENT_TYPES = ("approved", "declined", "issued", "sent", "acknowledged", "arrived", "feedback", "completed",
               "cancelled", "redirected", "not_attended", "lost")


@click.group()
def referral() -> None:
    """Referrals that close the loop: from the unit to the hospital and back."""


@referral.command("here")
@click.argument("code", required=False)
@click.pass_obj
def here(context: Context, code: str | None) -> None:
    """Show or set the facility this laptop works at (a code from `fieldkit referral facilities`)."""
    from fieldkit.records import facilities
    from fieldkit.records.referrals import here as facility_here

    store, _user = context.open()
    with store:
        if code:
            listed = facilities.find(code)
            if listed is None:
                raise click.ClickException(f"{code!r} is not in the facility list (`fieldkit referral facilities`)")
            store.set_meta({"facility": listed.code})
        current = store.read(facility_here)
    click.echo(f"{current}  {facilities.name_of(current)}" if current else "no facility set")


@referral.command("facilities")
@json_option
@click.pass_obj
def facility_list(context: Context, as_json: bool) -> None:
    """The facilities a referral may name (shipped, plus the site's facilities.toml)."""
    from fieldkit.records import facilities, site

    site.use(context.home.path)
    found = facilities.load()
    emit([vars(f) for f in found.values()], as_json,
         "\n".join(f"{f.code:<14} {f.name}  ({f.kind}, {f.country})" for f in found.values()))


@referral.command("add")
@click.argument("patient_id")
@click.option("--to", "to_facility", required=True, help="Facility code or name (unlisted: kept as typed).")
@click.option("--kind", type=click.Choice(["referral", "econsult", "transfer"]), default="referral")
@click.option("--service", "to_service", default="")
@click.option("--urgency", type=URGENCIES, default="routine")
@click.option("--reason", default="")
@click.option("--icd10", "reason_code", help="The reason as an ICD-10 code.")
@click.option("--encounter", "encounter_id", help="The encounter it comes from (default: the latest).")
@click.option("--history", default="", help="Brief history (default: the encounter's notes).")
@click.option("--tests", "tests_done", default="", help="Tests done.")
@click.option("--medicine", "medicines", multiple=True, help="A current medicine. Repeatable.")
@click.option("--no-known-allergies", is_flag=True, help="Asked: the patient has no known allergies.")
@click.option("--needs-approval", is_flag=True, help="A board must approve it first (treatment abroad).")
@json_option
@click.pass_obj
def add(context: Context, as_json: bool, medicines: tuple[str, ...], **request: Any) -> None:
    """Refer a patient (or ask a specialist's opinion: --kind econsult)."""
    from fieldkit.records import referral_lists, referral_services

    clinic = context.clinic()
    with clinic.store:
        referral_id = clinic.run(referral_services.refer, {
            "patient_id": request.pop("patient_id"), **request, "medicines": list(medicines)})
        made = clinic.store.read(lambda conn: referral_lists.detail(conn, referral_id))
    assert made is not None
    emit(made, as_json, f"{referral_id}  {made['number']}  to {made['to_name']}  expected by {made['expected_by']}")


@referral.command("event")
@click.argument("referral_id")
@click.argument("kind", metavar="EVENT", type=click.Choice(EVENT_TYPES))
@click.option("--board-ref", "board_reference", default="", help="approved/declined: the board's reference.")
@click.option("--reason", default="", help="not_attended: cost, transport, security, refused, died, "
                                           "went_elsewhere or other.")
@click.option("--to", "redirected_to", default="", help="redirected: the facility it goes to instead.")
@click.option("--findings", default="")
@click.option("--diagnosis", default="")
@click.option("--treatment", default="")
@click.option("--recommendations", default="")
@click.option("--follow-up", "follow_up", help="feedback: when the referring unit should see the patient.")
@click.option("--travel", is_flag=True, help="feedback on an e-consultation: the patient should come in person.")
@click.option("--note", default="")
@click.pass_obj
def event(context: Context, referral_id: str, kind: str, **details: Any) -> None:
    """Record what happened: sent, arrived, feedback (completes it), not_attended --reason, ..."""
    from fieldkit.records import referral_lists, referral_services

    clinic = context.clinic()
    with clinic.store:
        started = clinic.run(referral_services.record_event, referral_id,
                             {"type": kind, **{k: v for k, v in details.items() if v not in (None, "", False)}})
        now = clinic.store.read(lambda conn: referral_lists.detail(conn, referral_id))
    assert now is not None
    click.echo(f"{referral_id}  now {now['status']}" + (f"; continues as {started}" if started else ""))


@referral.command("resolve")
@click.argument("conflict_id")
@click.argument("event_id")
@click.option("--reason", required=True)
@click.pass_obj
def resolve(context: Context, conflict_id: str, event_id: str, reason: str) -> None:
    """Settle two contradicting events (supervisor): the one that stands, and why."""
    from fieldkit.records import referral_services

    clinic = context.clinic()
    with clinic.store:
        clinic.run(referral_services.resolve, conflict_id, event_id, reason)
    click.echo(f"{conflict_id} settled")


@referral.command("show")
@click.argument("referral_id")
@json_option
@click.pass_obj
def show(context: Context, referral_id: str, as_json: bool) -> None:
    """One referral: the request, the snapshot, every event (who, when, where)."""
    from fieldkit.records import referral_lists

    store, _user = context.open()
    with store:
        found = store.read(lambda conn: referral_lists.detail(conn, referral_id))
    if found is None:
        raise click.ClickException(f"no referral with id {referral_id}")
    lines = [f"{found['number']}  {found['kind']}  {found['from_name'] or '-'} -> {found['to_name']}"
             f"{'' if found['listed'] else ' (unlisted)'}",
             f"patient {found['patient_name']}  urgency {found['urgency']}  status {found['status']}  "
             f"expected by {found['expected_by']}", f"reason {found['reason_code'] or ''} {found['reason'] or ''}".rstrip(),
             f"allergies {', '.join(found['snapshot'].get('allergies', [])) or 'not recorded'}"]
    for item in found["events"]:
        said = "  ".join(f"{k} {v}" for k, v in item.items() if k not in ("id", "type", "at", "author", "author_name",
                                                                          "applied", "after") and v)
        lines.append(f"  {item['at']}  {item['type']}{'' if item['applied'] else ' (disputed)'}  "
                     f"by {item['author_name'] or item['author']}  {said}".rstrip())
    for conflict in found["conflicts"]:
        sides = " / ".join(f"{c['value']} ({c['event']})" for c in conflict["candidates"])
        lines.append(f"  CONFLICT {conflict['id']}: {sides}")
    emit(found, as_json, "\n".join(lines))


@referral.command("list")
@click.option("--to-us", is_flag=True, help="Referrals to this laptop's facility (a hospital's desk).")
@click.option("--all", "include_closed", is_flag=True, help="With --to-us: closed ones too.")
@json_option
@click.option("--csv", "csv_path", type=click.Path(dir_okay=False), help="Write the list to this CSV file.")
@click.pass_obj
def list_referrals(context: Context, to_us: bool, include_closed: bool, as_json: bool, csv_path: str | None) -> None:
    """The tracker: awaiting the board, to send, overdue, awaiting arrival, feedback to act on."""
    from fieldkit.records import referral_lists
    from fieldkit.records.referrals import here

    store, _user = context.open()
    with store:
        if to_us:
            facility = store.read(here)
            if not facility:
                raise click.ClickException("this laptop has no facility: `fieldkit referral here CODE`")
            lists = {"to_us": store.read(lambda conn: referral_lists.to_us(conn, facility, include_closed=include_closed))}
        else:
            lists = store.read(lambda conn: referral_lists.tracker(conn, date.today()))
    rows = [dict(row, list=name) for name, items in lists.items() if name not in ("feedback", "disputed")
            for row in items]
    if csv_path:
        write_rows(csv_path, rows, ("list", "number", "patient_name", "to_name", "urgency", "status", "expected_by",
                                    "days_overdue", "id"), context.home.path)
    lines = []
    for name, items in lists.items():
        lines.append(f"{name.replace('_', ' ')} ({len(items)})")
        for row in items:
            if name == "feedback":
                lines.append(f"  follow-up {row['due']}  {row['advice']}  (referral {row['referral_id']})")
            elif name == "disputed":
                lines.append(f"  conflict {row['id']} on referral {row['patient_id']}")
            else:
                late = f"  {row['days_overdue']} days overdue" if row.get("days_overdue") else ""
                lines.append(f"  {row['number']}  {row['patient_name']}  to {row['to_name']}  {row['urgency']}  "
                             f"{row['status']}  by {row['expected_by']}{late}")
    emit(lists, as_json, "\n".join(lines))
