"""`fieldkit hub …`: run the central hub (serve, enrol it) and forward a laptop's entries to it (push).

The hub's commands take its data directory (`--data`, or FIELDKIT_HUB_DATA); `push` runs on a
laptop and unlocks its clinic like every other command.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from fieldkit.cli.context import Context, emit, host_port, json_option
from fieldkit.i18n import LANGUAGES
from fieldkit.sync import ENROL_PORT

data_option = click.option("--data", type=click.Path(path_type=Path), envvar="FIELDKIT_HUB_DATA",
                           default=Path("hub-data"), show_default=True, help="The hub's data directory.")


@click.group()
def hub() -> None:
    """The central hub: run it, enrol it, forward to it."""


@hub.command("init")
@data_option
def hub_init(data: Path) -> None:
    """Make the hub's key in its data directory."""
    from fieldkit.hub import identity

    device = identity.init(data)
    click.echo(f"hub {device} in {data}\nnext, on the supervisor's laptop: fieldkit network enrol; "
               f"then here: fieldkit hub join CODE ADDRESS")


@hub.command("join")
@click.argument("code")
@click.argument("address", required=False)
@data_option
def hub_join(code: str, address: str | None, data: Path) -> None:
    """Enrol the hub in a network with the code the supervisor's laptop shows (or its join link)."""
    import asyncio

    from fieldkit.hub import identity
    from fieldkit.sync.enrolment import join_any, read_link

    code, addresses = read_link(code) if address is None else (code, [host_port(address, ENROL_PORT)])
    key_file = data / identity.KEY
    if not key_file.exists():
        raise click.ClickException(f"{data} holds no hub identity: run `fieldkit hub init` first")
    network, certificate = asyncio.run(join_any(code, addresses, device_key=bytes.fromhex(key_file.read_text())))
    member = identity.join(data, network, certificate)
    click.echo(f"hub {member.device_id} joined network {network.name} ({network.id})")


@hub.command("serve")
@data_option
@click.option("--host", default=None, help="Address to listen on [0.0.0.0].")
@click.option("--port", type=int, default=None, help="Port [7400].")
@click.option("--pages-port", type=int, default=None, help="Port of the programme managers' pages [the next one; -1: none].")
@click.option("--database", default=None, help="sqlite:///PATH (default: hub.db in the data directory) or "
                                                "postgresql://USER@HOST/DB")
@click.option("--reuse-port", is_flag=True, help="Share the ports with other `hub serve` processes on the same "
                                                 "PostgreSQL (SO_REUSEPORT): the kernel spreads connections over them.")
def hub_serve(data: Path, host: str | None, port: int | None, pages_port: int | None, database: str | None,
              reuse_port: bool) -> None:
    """Receive laptops' uploads until SIGINT or SIGTERM; one JSON log line per request on stderr."""
    import asyncio
    import logging
    import signal

    from fieldkit.hub import identity
    from fieldkit.hub.app import Hub
    from fieldkit.hub.settings import HubSettings
    from fieldkit.hub.storage import HubStorage

    settings = HubSettings.load(data, host=host, port=port, pages_port=pages_port, database=database)
    key = settings.database_key()  # first: no plaintext store is ever begun
    member = identity.load(data)
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stderr)
    storage = HubStorage.open(settings.database_url, key)

    async def run() -> None:
        stop = asyncio.Event()
        for number in (signal.SIGINT, signal.SIGTERM):
            asyncio.get_running_loop().add_signal_handler(number, stop.set)
        async with Hub(settings, storage, member, reuse_port=reuse_port) as running:
            click.echo(f"hub of {member.network.name} on {settings.host}:{running.port} ({storage.kind})")
            if running.pages_port is not None:
                from fieldkit.hub.web import certificate

                click.echo(f"pages for programme managers on https://{settings.host}:{running.pages_port}/ui/ "
                           f"(certificate SHA-256 {certificate.fingerprint(data)})")
            sys.stdout.flush()
            await stop.wait()

    try:
        asyncio.run(run())
    finally:
        storage.close()


@hub.command("push")
@click.option("--url", default=None, help="The hub, https://HOST:PORT; remembered for next time.")
@json_option
@click.pass_obj
def hub_push(context: Context, url: str | None, as_json: bool) -> None:
    """Forward everything the hub lacks, then receive what this laptop lacks; shows progress."""
    import asyncio

    from fieldkit.sync import membership
    from fieldkit.sync.forwarder import push

    store, _ = context.open()
    with store:
        member = membership.load(store)
        url = url or store.get_meta("hub_url")
        if not url:
            raise click.ClickException("no hub yet: give --url https://HOST:7400")
        store.set_meta({"hub_url": url})

        def progress(report) -> None:
            if not as_json:
                click.echo(f"sent {report.sent} entries in {report.batches} batches, {report.pending} still to send",
                           err=True)

        report = asyncio.run(push(store, member, url, progress=progress))
    emit({"sent": report.sent, "batches": report.batches, "received": report.received, "pending": report.pending,
          "seconds": round(report.seconds, 2)}, as_json,
         f"hub has everything: sent {report.sent}, received {report.received} in {report.seconds:.1f} s")


@hub.group("key")
def hub_key() -> None:
    """The key that encrypts the hub's SQLite store."""


@hub_key.command("new")
@click.argument("path", type=click.Path(path_type=Path))
def hub_key_new(path: Path) -> None:
    """Write a new random key to PATH (0600; keep it off the data directory's disk)."""
    import secrets

    try:
        with open(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "w") as out:
            out.write(secrets.token_hex(32) + "\n")
    except FileExistsError:
        raise click.ClickException(f"{path} exists: a key is never overwritten (the store it opens would be lost)") from None
    click.echo(f"wrote a hub key to {path}; give key_file = {path} in hub.toml or FIELDKIT_HUB_KEY_FILE")


@hub_key.command("rotate")
@data_option
@click.argument("new_key_file", type=click.Path(path_type=Path, exists=True, dir_okay=False))
def hub_key_rotate(data: Path, new_key_file: Path) -> None:
    """Re-encrypt the stopped hub's SQLite store under the key in NEW_KEY_FILE."""
    from fieldkit.hub.settings import HubSettings, parse_key
    from fieldkit.hub.storage import rekey_sqlite

    settings = HubSettings.load(data)
    old = settings.database_key()
    if old is None:
        raise click.ClickException("this hub stores in PostgreSQL: its disk is encrypted below the database")
    rekey_sqlite(Path(settings.database_url.removeprefix("sqlite:///")), old, parse_key(new_key_file.read_text(),
                                                                                        str(new_key_file)))
    click.echo(f"re-encrypted; point key_file (or FIELDKIT_HUB_KEY_FILE) at {new_key_file}, then start the hub")


@hub.group("operator")
def hub_operator() -> None:
    """Programme managers' accounts for the hub's pages (https://HUB:7401/ui/), not laptop users."""


def _operators(data: Path, database: str | None):
    """The hub's operator accounts, in its store (opened with the hub's key, as `serve` opens it)."""
    from fieldkit.hub.web.operators import Operators

    return Operators(_opened(data, database)[1])


database_option = click.option("--database", default=None, help="As `fieldkit hub serve` is given it.")


@hub_operator.command("add")
@click.argument("name")
@click.option("--language", default="en", show_default=True, type=click.Choice(list(LANGUAGES)),
              help="The pages' language until the operator picks another.")
@data_option
@database_option
def hub_operator_add(name: str, language: str, data: Path, database: str | None) -> None:
    """Add an operator; the password (12 characters or more) is asked twice."""
    from fieldkit.hub.web.operators import password_problem

    operators = _operators(data, database)
    try:
        while True:
            password = click.prompt(f"Password for {name}", hide_input=True, confirmation_prompt=True)
            if (problem := password_problem(password)) is None:
                break
            click.echo(problem, err=True)
        operators.add(name, password, language)
    finally:
        operators.storage.close()
    click.echo(f"added operator {name}: she signs in at the pages' address `fieldkit hub serve` prints")


@hub_operator.command("list")
@data_option
@database_option
@json_option
def hub_operator_list(data: Path, database: str | None, as_json: bool) -> None:
    """Operators, whether each may sign in, and since when."""
    operators = _operators(data, database)
    try:
        found = [{"name": o.name, "active": o.active, "language": o.language, "created": o.created}
                 for o in operators.all()]
    finally:
        operators.storage.close()
    emit(found, as_json, "\n".join(f"{o['name']}\t{'active' if o['active'] else 'disabled'}\t{o['language']}\t"
                                   f"{o['created']}" for o in found) or "no operators yet")


@hub_operator.command("disable")
@click.argument("name")
@data_option
@database_option
def hub_operator_disable(name: str, data: Path, database: str | None) -> None:
    """Stop an operator signing in; her open sessions end at once."""
    operators = _operators(data, database)
    try:
        operators.disable(name)
    finally:
        operators.storage.close()
    click.echo(f"disabled operator {name}")


# -- programme managers' reports, on the hub machine against its storage ---------------------------

def _opened(data: Path, database: str | None):
    """The hub's settings and storage, opened as `serve` opens them (with the hub's key)."""
    from fieldkit.hub.settings import HubSettings
    from fieldkit.hub.storage import HubStorage

    settings = HubSettings.load(data, database=database)
    return settings, HubStorage.open(settings.database_url, settings.database_key())


def _outside(settings, path: Path) -> Path:
    """A file goes where the operator says, never into the hub's data directory (its disk may be
    the one a thief takes: the store is encrypted there, a report would not be)."""
    from fieldkit.i18n import _
    from fieldkit.store.home import Home

    if Home(settings.data).holds(path):
        raise click.ClickException(_("reports are written where you choose, never into the hub's data directory"))
    return path.expanduser().resolve()


@hub.command("refresh")
@data_option
@database_option
@click.option("--rebuild", is_flag=True, help="Fold the replica again from its journal, and copy the reports whole.")
def hub_refresh(data: Path, database: str | None, rebuild: bool) -> None:
    """Bring the reports up to date now: fold what the replica lacks, copy what changed."""
    import time

    from fieldkit.hub.replica import Replica, refresh
    from fieldkit.i18n import _

    settings, storage = _opened(data, database)
    try:
        started = time.perf_counter()
        with Replica.open(settings) as replica:
            if rebuild:
                replica.rebuild()
            folded = refresh(storage, replica)
    finally:
        storage.close()
    click.echo(_("reports up to date: {count} new entries folded in {seconds} s").format(
        count=folded, seconds=f"{time.perf_counter() - started:.1f}"))


@hub.command("report")
@click.argument("report")
@click.option("--by", default=None, help="Count by this grouping (see `fieldkit hub report list`).")
@click.option("--over", default=None, help="Count over time: month.")
@click.option("--filter", "filters", multiple=True, metavar="NAME=VALUE", help="Keep rows where NAME is VALUE; repeatable.")
@click.option("--format", "kind", type=click.Choice(["text", "json", "csv", "data", "xlsx"]), default="text",
              show_default=True, help="csv opens in Excel (BOM, formulas escaped); data is plain CSV for tools.")
@click.option("--limit", type=int, default=None, help="At most this many rows of a line list.")
@click.option("-o", "--output", type=click.Path(path_type=Path), default=None, help="Write the file here.")
@data_option
@database_option
def hub_report(report: str, by: str | None, over: str | None, filters: tuple[str, ...], kind: str, limit: int | None,
               output: Path | None, data: Path, database: str | None) -> None:
    """A report across every clinic: REPORT is `list`, or a report's id (`enrolments`, `enrolments@1`)."""
    from fieldkit.hub import report_files, reports
    from fieldkit.i18n import _

    if report == "list":
        found = [{"ref": d.ref, "title": _(d.title), "unit": d.unit, "groups": list(reports.groups(d))}
                 for d in reports.DEFINITIONS.values()]
        emit(found, kind == "json", "\n".join(f"{d['ref']}\t{d['unit']}\t{d['title']}" for d in found))
        return
    asked = {}
    for given in filters:
        name, equals, value = given.partition("=")
        if not equals or not name.strip():
            raise click.BadParameter(_("give a filter as NAME=VALUE, not “{given}”").format(given=given))
        asked[name.strip()] = value.strip()
    if kind == "xlsx" and output is None:
        raise click.ClickException(_("an XLSX file needs -o FILE"))
    settings, storage = _opened(data, database)
    try:
        target = _outside(settings, output) if output else None
        stale_days = settings.stale_days
        if over:
            made = reports.over_time(storage, report, asked, period=over, stale_days=stale_days)
        elif by:
            made = reports.counts(storage, report, by, asked, stale_days=stale_days)
        else:
            made = reports.line_list(storage, report, asked, limit=limit if limit is not None or target else 50,
                                     stale_days=stale_days)
        if kind in ("csv", "data", "xlsx"):
            flavour = "excel" if kind == "csv" else kind
            if target is None:
                for piece in report_files.csv_pieces(made, flavour):
                    sys.stdout.buffer.write(piece)
                return
            with open(target, "wb") as out:
                if flavour == "xlsx":
                    report_files.write_xlsx(made, out)
                else:
                    report_files.write_csv(made, out, flavour)
            click.echo(_("wrote {path}").format(path=target), err=True)
            return
        rows = list(made.rows)
        made_json = {"report": made.definition.ref, "unit": made.unit, "parameters": made.parameters,
                 "generated_at": made.generated_at, "total": made.total, "columns": list(made.columns), "rows": rows,
                 "stale_devices": [{"device": device, "last_heard": last} for device, last in made.stale_devices]}
        lines = [f"{_(made.definition.title)} ({made.definition.ref}): "
                 + _("{total} {unit}").format(total=made.total, unit=made.unit)]
        lines += ["\t".join("" if row.get(c) is None else str(row.get(c)) for c in made.columns) for row in rows]
        lines += [_("not heard from in {days} days: {device} (last {last})").format(
            days=stale_days, device=device, last=last or _("never")) for device, last in made.stale_devices]
        emit(made_json, kind == "json", "\n".join(lines))
    finally:
        storage.close()


@hub.command("dhis2")
@click.option("--period", required=True, help="The month, YYYY-MM.")
@click.option("--format", "kind", type=click.Choice(["json", "csv"]), default="json", show_default=True)
@click.option("--mapping", type=click.Path(path_type=Path, exists=True, dir_okay=False), default=None,
              help="The indicators' mapping (default: dhis2.toml in the data directory, else the shipped one).")
@click.option("-o", "--output", type=click.Path(path_type=Path), required=True, help="Write the data value set here.")
@data_option
@database_option
def hub_dhis2(period: str, kind: str, mapping: Path | None, output: Path, data: Path, database: str | None) -> None:
    """One month's indicators as a DHIS2 aggregate data value set (codes: import with idScheme=CODE)."""
    import json

    from fieldkit.export import dhis2
    from fieldkit.hub import reports
    from fieldkit.i18n import _

    settings, storage = _opened(data, database)
    try:
        target = _outside(settings, output)
        own = settings.data / "dhis2.toml"
        chosen = dhis2.load_mapping(mapping or (own if own.exists() else None))
        month = reports.month_of(period)
        value_set = dhis2.data_value_set(reports.dhis2_counts(storage, chosen, month), chosen, period=month)
    finally:
        storage.close()
    target.write_text(json.dumps(value_set, ensure_ascii=False, indent=2) if kind == "json" else dhis2.to_csv(value_set),
                      encoding="utf-8")
    click.echo(_("wrote {path}: {count} values for {period}").format(
        path=target, count=len(value_set["dataValues"]), period=value_set["period"]), err=True)
