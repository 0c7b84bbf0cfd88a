"""`fieldkit db …` (check, rebuild, passphrase) and `fieldkit audit verify`."""

from __future__ import annotations

import os
import sys

import click

from fieldkit.cli.context import Context, emit, json_option


@click.group()
def db() -> None:
    """Check, rebuild and re-key the clinic database."""


@db.command("check")
@json_option
@click.pass_obj
def db_check(context: Context, as_json: bool) -> None:
    """Verify page integrity, every journal chain, the audit log and the fold."""
    from fieldkit.store.maintenance import check

    store, _ = context.open()
    with store:
        report = check(store)
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
    store, _ = context.open()
    with store:
        rebuilt = store.rebuild()
    report = {"entries": rebuilt.entries, "state_before": rebuilt.before, "state_after": rebuilt.after,
              "same": rebuilt.same}
    emit(report, as_json, f"re-folded {rebuilt.entries} entries\nstate {rebuilt.after}\n"
         + ("same state as before" if rebuilt.same else f"STATE CHANGED (was {rebuilt.before})"))
    if not rebuilt.same:
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


@click.group()
def audit() -> None:
    """The hash-chained audit log."""


@audit.command("verify")
@json_option
@click.pass_obj
def audit_verify(context: Context, as_json: bool) -> None:
    """Check that no audit row was modified or cut off."""
    store, _ = context.open()
    with store:
        report = store.verify_audit()
    emit({"ok": report.ok, "rows": report.rows, "problem": report.problem}, as_json,
         f"audit log intact: {report.rows} rows" if report.ok else f"AUDIT LOG DAMAGED: {report.problem}")
    if not report.ok:
        sys.exit(1)
