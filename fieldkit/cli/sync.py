"""`fieldkit sync …`: serve the LAN mesh, one round now, and what each peer lacked."""

from __future__ import annotations

import sys
import time
from typing import Any

import click

from fieldkit.cli.context import Context, emit, host_port, json_option
from fieldkit.errors import FieldkitError
from fieldkit.sync import DEFAULT_PORT as SYNC_PORT

LOOK_FOR = 3.0  # seconds `sync now` listens for peers before syncing with those it found


@click.group()
def sync() -> None:
    """Sync with laptops on the LAN."""


@sync.command("serve")
@click.option("--host", default="0.0.0.0", show_default=True, help="Address to accept peers on.")
@click.option("--port", default=SYNC_PORT, show_default=True)
@click.option("--interface", "interfaces", multiple=True, metavar="ADDRESS",
              help="Advertise (mDNS) only on this address of the laptop; repeat for several. "
                   "Default: the --host address, or every interface when --host is 0.0.0.0.")
@click.pass_obj
def sync_serve(context: Context, host: str, port: int, interfaces: tuple[str, ...]) -> None:
    """Advertise this laptop, accept peers, and sync with peers as they appear, until stopped.

    Forwards to the hub too, when `fieldkit hub push --url` has named one."""
    import asyncio
    import signal

    from fieldkit.sync import membership
    from fieldkit.sync.engine import Engine

    # A laptop with a cable to the clinic's LAN and a phone's hotspot announces itself where told.
    advertised = list(interfaces) or (None if host == "0.0.0.0" else [host])
    store, _ = context.open()
    with store:
        member = membership.load(store)

        async def run() -> None:
            stop = asyncio.Event()
            for number in (signal.SIGINT, signal.SIGTERM):
                asyncio.get_running_loop().add_signal_handler(number, stop.set)
            shown, hub_round = 0, None

            def show() -> None:
                nonlocal shown, hub_round
                for event in list(engine.history)[: len(engine.history) - shown][::-1]:
                    who = event.device[:8] or "?"
                    click.echo(f"{time.strftime('%H:%M:%S')} {who}: " + (
                        f"error: {event.error}" if event.error else f"sent {event.sent}, received {event.received}"))
                shown = len(engine.history)
                uplink = engine.uplink
                if uplink.status in ("sent", "failed") and (uplink.status, uplink.last_success, uplink.failures) != hub_round:
                    hub_round = uplink.status, uplink.last_success, uplink.failures
                    click.echo(f"{time.strftime('%H:%M:%S')} hub: " + (
                        f"error: {uplink.error}" if uplink.error else f"sent {uplink.sent}, {uplink.pending} pending"))

            engine = Engine(store, member, host=host, port=port, on_change=show, interfaces=advertised)
            async with engine:
                click.echo(f"serving network {member.network.name} as {member.device_id[:8]} on {host}:{engine.port}")
                click.echo("advertised on " + (", ".join(advertised) if advertised else "every interface"))
                await stop.wait()

        asyncio.run(run())


@sync.command("now")
@click.argument("peer", required=False)
@json_option
@click.pass_obj
def sync_now(context: Context, peer: str | None, as_json: bool) -> None:
    """One round with PEER (HOST:PORT, or a laptop id or prefix seen on the LAN), or with every peer seen."""
    import asyncio

    from fieldkit.sync import membership
    from fieldkit.sync.discovery import Discovery
    from fieldkit.sync.messages import PROTOCOL
    from fieldkit.sync.peer import sync_with

    store, _ = context.open()
    with store:
        member = membership.load(store)

        def progress(report) -> None:
            if not as_json:
                click.echo(f"\r{report.peer[:8]}: sent {report.sent}/{report.to_send}, "
                           f"received {report.received}/{report.to_receive}", nl=False, err=True)

        async def run() -> list[dict[str, Any]]:
            if peer and ":" in peer:
                host, port = host_port(peer, SYNC_PORT)
                targets = [(host, port, None)]
            else:
                async with Discovery(network_id=member.network.id, device_id=member.device_id, port=0,
                                     protocol=PROTOCOL, advertise=False) as discovery:
                    deadline = time.monotonic() + LOOK_FOR
                    # Discovery has no event for "this peer was seen": look every tenth of a second.
                    while time.monotonic() < deadline and not _chosen(discovery.peers(), peer):  # noqa: ASYNC110
                        await asyncio.sleep(0.1)
                    targets = [(s.host, s.port, s.device_id) for s in _chosen(discovery.peers(), peer)]
                if not targets:
                    raise click.ClickException(f"no laptop {peer or 'of ' + member.network.name} in sight")
            results = []
            for host, port, device in targets:
                try:
                    report = await sync_with(store, member, host, port, expect=device, progress=progress)
                    results.append({"peer": report.peer, "sent": report.sent, "received": report.received,
                                    "seconds": round(report.seconds, 3), "clock_suspect": report.clock_suspect})
                except FieldkitError as exc:  # one peer failing does not stop the round
                    results.append({"peer": device or f"{host}:{port}", "error": str(exc)})
            return results

        results = asyncio.run(run())
    if not as_json:
        click.echo("", err=True)
    emit(results, as_json, "\n".join(
        f"{_short(r['peer'])}: error: {r['error']}" if "error" in r else
        f"{_short(r['peer'])}: sent {r['sent']}, received {r['received']} in {r['seconds']} s"
        + ("  (its clock is off)" if r["clock_suspect"] else "") for r in results))
    if any("error" in r for r in results):
        sys.exit(1)


def _short(peer: str) -> str:
    """A laptop id's first eight characters, as everywhere else; an address as typed."""
    return peer[:8] if ":" not in peer else peer


def _chosen(sightings, peer: str | None):
    return [s for s in sightings if peer is None or s.device_id.startswith(peer)]


@sync.command("status")
@json_option
@click.pass_obj
def sync_status(context: Context, as_json: bool) -> None:
    """Peers this laptop has synced with, when, and how many entries each side lacked since."""
    from fieldkit.sync import membership
    from fieldkit.sync.hub_vector import lacking

    store, _ = context.open()
    with store:
        member = membership.load(store)
        ours = store.version_vector()
        peers = store.peers()
    rows = [{"device": p["device"], "address": p["address"], "last_sync": p["last_sync"], "error": p["error"],
             "they_lack": lacking(p["vector"], ours), "we_lack": lacking(ours, p["vector"])} for p in peers]
    report = {"network": member.network.id, "device": member.device_id, "entries": sum(ours.values()),
              "peers": rows}
    emit(report, as_json, "\n".join([f"network {member.network.name}, this laptop {member.device_id[:8]}, "
                                     f"{report['entries']} entries"] + [
        f"{r['device'][:8]} {r['address']}: last sync {r['last_sync'] or 'never'}, they lack {r['they_lack']}, "
        f"we lack {r['we_lack']}" + (f", last error: {r['error']}" if r["error"] else "") for r in rows]))
