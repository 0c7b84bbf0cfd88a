"""The `fieldkit` command. `fieldkit` alone opens the TUI; everything else is a subcommand.

Imports of the store, the domain and the TUI happen inside commands so `fieldkit --help` starts
fast. Every failure a user can cause prints one line to stderr and exits 1, never a traceback
(FIELDKIT_DEBUG=1 shows it). Read commands take --json and print one JSON document.
"""

from __future__ import annotations

import json
import os
import sys
from typing import Any

import click

DEMO_USER = "demo"
DEMO_PASSPHRASE = "demo-clinic-2026"


class Context:
    def __init__(self, home: str | None, user: str | None) -> None:
        self.home_option = home
        self.user_option = user
        self.demo_passphrase: str | None = None  # only `fieldkit demo` signs in by itself

    @property
    def home(self):
        from fieldkit.store.home import Home

        return Home.resolve(self.home_option)

    def passphrase(self, prompt: str = "Passphrase") -> str:
        return os.environ.get("FIELDKIT_PASSPHRASE") or click.prompt(prompt, hide_input=True)

    def user_name(self) -> str:
        from fieldkit.store.keystore import Keystore

        if self.user_option:
            return self.user_option
        users = Keystore(self.home.keystore).users() if self.home.exists else []
        if len(users) == 1:
            return users[0].name
        return click.prompt("User")

    def clinic(self):
        """Unlock as the chosen user; the caller closes `clinic.store`."""
        from fieldkit.records.services import Clinic
        from fieldkit.store.session import unlock

        store, user = unlock(self.home, self.user_name(), self.passphrase())
        return Clinic(store, user)


def emit(data: Any, as_json: bool, text: str) -> None:
    click.echo(json.dumps(data, ensure_ascii=False, indent=2, default=str) if as_json else text)


json_option = click.option("--json", "as_json", is_flag=True, help="Print one JSON document.")


@click.group(invoke_without_command=True, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--home", envvar="FIELDKIT_HOME", help="Data directory (default: FIELDKIT_HOME or ~/.local/share/fieldkit).")
@click.option("--user", "-u", envvar="FIELDKIT_USER", help="Sign in as this user (default: the only user, or ask).")
@click.version_option(package_name="fieldkit")
@click.pass_context
def cli(ctx: click.Context, home: str | None, user: str | None) -> None:
    """Offline-first field clinic kit. Without a command, opens the clinic screen."""
    ctx.obj = Context(home, user)
    if ctx.invoked_subcommand is None:
        open_tui(ctx.obj)


def open_tui(context: Context) -> None:
    from fieldkit.tui.app import run

    run(context.home, user=context.user_option, passphrase=context.demo_passphrase)


# -- setting up --------------------------------------------------------------------------------

@cli.command()
@click.option("--supervisor", prompt="First supervisor's name", help="Name of the first supervisor user.")
@click.pass_obj
def init(context: Context, supervisor: str) -> None:
    """Create the encrypted clinic database, this laptop's identity and the first supervisor."""
    from fieldkit.store.session import create_clinic
    from fieldkit.sync.identity import new_device_key

    passphrase = os.environ.get("FIELDKIT_PASSPHRASE") or click.prompt(
        "Passphrase", hide_input=True, confirmation_prompt=True)
    key, device = new_device_key()
    store, user = create_clinic(context.home, supervisor=supervisor, passphrase=passphrase,
                                device_id=device, device_key=key)
    store.close()
    click.echo(f"created clinic in {context.home.path}\ndevice {device}\nsupervisor {user.name}")


@cli.command()
@click.option("--patients", default=3000, show_default=True, help="How many patients to generate.")
@click.option("--no-tui", is_flag=True, help="Only create and seed the demo clinic.")
@click.option("--seed", default=2026, show_default=True, help="Random seed for the generated records.")
@click.pass_obj
def demo(context: Context, patients: int, no_tui: bool, seed: int) -> None:
    """Create (once) a demo clinic with realistic patients in five languages, then open it."""
    from fieldkit.records.demo import seed_clinic
    from fieldkit.store.home import Home
    from fieldkit.store.session import create_clinic
    from fieldkit.sync.identity import new_device_key

    home = Home.resolve(context.home_option or _demo_home())
    if not home.exists:
        key, device = new_device_key()
        store, user = create_clinic(home, supervisor=DEMO_USER, passphrase=DEMO_PASSPHRASE,
                                    device_id=device, device_key=key)
        with store:
            with click.progressbar(length=patients, label="Registering demo patients", file=sys.stderr) as bar:
                report = seed_clinic(store, user.id, patients, seed=seed,
                                     progress=lambda done, total: bar.update(done - bar.pos))
        click.echo(f"seeded {report.patients} patients and {report.encounters} encounters "
                   f"in {report.seconds:.1f} s", err=True)
    click.echo(f"demo clinic: {home.path}\nuser: {DEMO_USER}\npassphrase: {DEMO_PASSPHRASE}")
    if not no_tui:
        context.home_option, context.user_option = str(home.path), DEMO_USER
        context.demo_passphrase = DEMO_PASSPHRASE
        open_tui(context)


def _demo_home() -> str:
    data = os.environ.get("XDG_DATA_HOME") or os.path.join(os.path.expanduser("~"), ".local", "share")
    return os.path.join(data, "fieldkit-demo")


@cli.group()
def user() -> None:
    """Users of this laptop and their roles."""


@user.command("add")
@click.argument("name")
@click.option("--role", type=click.Choice(["clinician", "clerk", "supervisor"]), required=True)
@click.option("--language", default="en", show_default=True, type=click.Choice(["en", "fr", "ar", "fa", "vi"]))
@click.pass_obj
def user_add(context: Context, name: str, role: str, language: str) -> None:
    """Add a user (a supervisor signs in to do it); the new user's passphrase is asked twice."""
    from fieldkit.store.session import add_user, unlock

    supervisor = context.user_name()
    supervisor_passphrase = context.passphrase(f"Passphrase for {supervisor}")
    new_passphrase = os.environ.get("FIELDKIT_NEW_PASSPHRASE") or click.prompt(
        f"New passphrase for {name}", hide_input=True, confirmation_prompt=True)
    store, _ = unlock(context.home, supervisor, supervisor_passphrase)
    with store:
        added = add_user(context.home, store, by=supervisor, by_passphrase=supervisor_passphrase, name=name,
                         role=role, passphrase=new_passphrase, language=language)
    click.echo(f"added {added.role} {added.name}")


@user.command("list")
@json_option
@click.pass_obj
def user_list(context: Context, as_json: bool) -> None:
    """Users who can sign in on this laptop (no passphrase needed)."""
    from fieldkit.store.keystore import Keystore

    users = [{"name": u.name, "role": u.role, "language": u.language} for u in Keystore(context.home.keystore).users()]
    emit(users, as_json, "\n".join(f"{u['name']}\t{u['role']}\t{u['language']}" for u in users))


# -- patients ----------------------------------------------------------------------------------

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


@cli.group()
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
    for match in duplicates:
        click.echo(f"warning: possible duplicate {match['id']} {match['name']} ({', '.join(match['reasons'])})", err=True)
    emit({"id": result.patient_id, "possible_duplicates": duplicates}, as_json, result.patient_id)


@patient.command("search")
@click.argument("query", nargs=-1, required=True)
@click.option("--limit", default=20, show_default=True)
@json_option
@click.pass_obj
def patient_search(context: Context, query: tuple[str, ...], limit: int, as_json: bool) -> None:
    """Find patients by any part of a name (any script), an identifier or a phone number."""
    clinic = context.clinic()
    with clinic.store:
        found = clinic.search(" ".join(query), limit=limit)
    rows = [vars(p) | {"name": p.full_name} for p in found]
    emit(rows, as_json, "\n".join(f"{p.id}  {p.full_name}  {p.sex}  {p.birth_date}{'~' if p.birth_date_estimated else ''}"
                                  f"  {p.locality}" for p in found) or "no patient found")


@patient.command("show")
@click.argument("patient_id")
@json_option
@click.pass_obj
def patient_show(context: Context, patient_id: str, as_json: bool) -> None:
    """Show a patient's record (opening it is audited)."""
    clinic = context.clinic()
    with clinic.store:
        record = clinic.patient(patient_id)
    emit(record, as_json, _describe_patient(record))


def _describe_patient(record: dict[str, Any]) -> str:
    from fieldkit.records.models import full_name

    lines = [f"{full_name(record)}  ({record.get('sex') or 'unknown'}, born {record.get('birth_date') or '?'}"
             f"{' estimated' if record.get('birth_date_estimated') else ''})",
             f"id {record['id']}  phone {record.get('phone') or '-'}  locality {record.get('locality') or '-'}"]
    if record.get("allergies"):
        lines.append(f"ALLERGIES: {', '.join(record['allergies'])}")
    if record.get("merged_into"):
        lines.append(f"merged into {record['merged_into']}")
    for encounter in record["encounters"]:
        score = encounter.get("scores", {}).get("news2", {})
        lines.append(f"  {encounter['at']}  {encounter.get('kind')}  NEWS2 {score.get('total', '-')} ({score.get('band', '-')})"
                     f"{'  ENTERED IN ERROR' if encounter['entered_in_error'] else ''}")
    for conflict in record["conflicts"]:
        lines.append(f"  conflict on {conflict['field']}: "
                     + " vs ".join(json.dumps(c['value'], ensure_ascii=False) for c in conflict["candidates"]))
    return "\n".join(lines)


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


# -- encounters --------------------------------------------------------------------------------

@cli.group()
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


# -- database and audit ------------------------------------------------------------------------

@cli.group()
def db() -> None:
    """Check, rebuild and re-key the clinic database."""


@db.command("check")
@json_option
@click.pass_obj
def db_check(context: Context, as_json: bool) -> None:
    """Verify page integrity, every journal chain, the audit log and the fold."""
    from fieldkit.store.maintenance import check

    clinic = context.clinic()
    with clinic.store:
        report = check(clinic.store)
    lines = [f"{k}: {v}" for k, v in report.items() if k != "tables"]
    lines.append("rows: " + ", ".join(f"{name} {count}" for name, count in report["tables"].items()))
    emit(report, as_json, "\n".join(lines))
    if not report["ok"]:
        sys.exit(1)


@db.command("rebuild")
@json_option
@click.pass_obj
def db_rebuild(context: Context, as_json: bool) -> None:
    """Re-fold every table from the journal and confirm the state hash is unchanged."""
    clinic = context.clinic()
    with clinic.store:
        before = clinic.store.state_hash()
        entries = clinic.store.rebuild()
        after = clinic.store.state_hash()
    report = {"entries": entries, "state_before": before, "state_after": after, "same": before == after}
    emit(report, as_json, f"re-folded {entries} entries\nstate {after}\n"
         + ("same state as before" if before == after else f"STATE CHANGED (was {before})"))
    if before != after:
        sys.exit(1)


@db.command("passwd")
@click.pass_obj
def db_passwd(context: Context) -> None:
    """Change your passphrase; re-wraps the key, re-encrypts nothing."""
    from fieldkit.store.keystore import Keystore

    name = context.user_name()
    old = context.passphrase("Current passphrase")
    new = os.environ.get("FIELDKIT_NEW_PASSPHRASE") or click.prompt("New passphrase", hide_input=True,
                                                                    confirmation_prompt=True)
    Keystore(context.home.keystore).change_passphrase(name, old, new)
    click.echo(f"passphrase changed for {name}")


@cli.group()
def audit() -> None:
    """The hash-chained audit log."""


@audit.command("verify")
@json_option
@click.pass_obj
def audit_verify(context: Context, as_json: bool) -> None:
    """Check that no audit row was modified or cut off."""
    clinic = context.clinic()
    with clinic.store:
        report = clinic.store.verify_audit()
    emit({"ok": report.ok, "rows": report.rows, "problem": report.problem}, as_json,
         f"audit log intact: {report.rows} rows" if report.ok else f"AUDIT LOG DAMAGED: {report.problem}")
    if not report.ok:
        sys.exit(1)


from fieldkit.cli_hub import hub  # noqa: E402 - they build on Context, defined above
from fieldkit.cli_sync import network, sync  # noqa: E402

cli.add_command(network)
cli.add_command(sync)
cli.add_command(hub)


def main() -> None:
    from click import ClickException

    try:
        cli.main(standalone_mode=False, prog_name="fieldkit")
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        sys.exit(130)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except Exception as exc:  # noqa: BLE001 - the one place every failure becomes one line
        if os.environ.get("FIELDKIT_DEBUG"):
            raise
        from fieldkit.errors import FieldkitError

        message = str(exc) if isinstance(exc, FieldkitError) else f"internal error: {type(exc).__name__}: {exc}"
        click.echo(f"error: {message}", err=True)
        sys.exit(1 if isinstance(exc, FieldkitError) else 2)
