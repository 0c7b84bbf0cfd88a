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
@click.option("--database", default=None, help="sqlite:///PATH (default: hub.db in the data directory) or "
                                                "postgresql://USER@HOST/DB")
def hub_serve(data: Path, host: str | None, port: int | None, database: str | None) -> None:
    """Receive laptops' uploads until SIGINT or SIGTERM; one JSON log line per request on stderr."""
    import asyncio
    import logging
    import signal

    from fieldkit.hub import identity
    from fieldkit.hub.app import Hub
    from fieldkit.hub.settings import HubSettings
    from fieldkit.hub.storage import HubStorage

    settings = HubSettings.load(data, host=host, port=port, database=database)
    key = settings.database_key()  # first: no plaintext store is ever begun
    member = identity.load(data)
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stderr)
    storage = HubStorage.open(settings.database_url, key)

    async def run() -> None:
        stop = asyncio.Event()
        for number in (signal.SIGINT, signal.SIGTERM):
            asyncio.get_running_loop().add_signal_handler(number, stop.set)
        async with Hub(settings, storage, member) as running:
            click.echo(f"hub of {member.network.name} on {settings.host}:{running.port} ({storage.kind})")
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
