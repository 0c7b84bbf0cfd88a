"""`fieldkit network …` (enrol and revoke laptops) and `fieldkit sync …` (run the mesh).

Kept apart from cli.py, which holds the clinic's own commands; both share its Context. Every
command unlocks the clinic as a user, because the network key and certificates live in the
encrypted database.
"""

from __future__ import annotations

import asyncio
import signal
import sys
import time
from typing import Any

import click

from fieldkit.cli import Context, emit, json_option
from fieldkit.errors import FieldkitError

from fieldkit.sync import DEFAULT_PORT as SYNC_PORT, ENROL_PORT
LOOK_FOR = 3.0  # seconds `sync now` listens for peers before syncing with those it found


def _supervisor(context: Context):
    clinic = context.clinic()
    if clinic.user.role != "supervisor":
        clinic.store.close()
        raise click.ClickException("only a supervisor can enrol or revoke laptops")
    return clinic


def _address(text: str, default_port: int) -> tuple[str, int]:
    host, _, port = text.rpartition(":") if ":" in text else (text, "", str(default_port))
    if not port.isdigit():
        raise click.BadParameter(f"{text!r} is not HOST or HOST:PORT")
    return host, int(port)


@click.group()
def network() -> None:
    """Create a clinic network, enrol laptops into it, revoke them."""


@network.command("create")
@click.argument("name")
@click.pass_obj
def network_create(context: Context, name: str) -> None:
    """Start a network on this laptop, which then holds its key (a supervisor's laptop)."""
    from fieldkit.sync import membership

    clinic = _supervisor(context)
    with clinic.store:
        member = membership.create(clinic.store, name)
    click.echo(f"network {member.network.name} ({member.network.id})\nthis laptop {member.device_id} holds its key")


@network.command("show")
@json_option
@click.pass_obj
def network_show(context: Context, as_json: bool) -> None:
    """This laptop's network, the laptops it knows and those revoked."""
    from fieldkit.sync import membership

    clinic = context.clinic()
    with clinic.store:
        member = membership.load(clinic.store)
        known, revoked = sorted(clinic.store.certificates()), sorted(clinic.store.revoked())
    report = {"network": member.network.id, "name": member.network.name, "device": member.device_id,
              "holds_network_key": member.network_key is not None, "laptops": known, "revoked": revoked}
    emit(report, as_json, "\n".join([
        f"network {member.network.name} ({member.network.id})", f"this laptop {member.device_id}"
        + (" (holds the network key)" if member.network_key else ""),
        f"laptops known: {len(known)}", *(f"  {d}{'  revoked' if d in revoked else ''}" for d in known)]))


@network.command("enrol")
@click.option("--port", default=ENROL_PORT, show_default=True)
@click.option("--minutes", default=10, show_default=True, help="How long the code stays valid.")
@click.pass_obj
def network_enrol(context: Context, port: int, minutes: int) -> None:
    """Show a one-time code and wait for one new laptop to join with it."""
    from fieldkit.sync import membership
    from fieldkit.sync.discovery import lan_addresses
    from fieldkit.sync.enrolment import Offer, join_link, new_code

    clinic = _supervisor(context)
    with clinic.store:
        member = membership.load(clinic.store)
        if member.network_key is None:
            raise click.ClickException("this laptop does not hold the network key")
        offer = Offer(new_code(), member.network_key, member.network, lifetime=minutes * 60.0)

        async def run() -> str:
            await offer.serve("0.0.0.0", port)
            here = lan_addresses()
            addresses = ", ".join(f"{a}:{offer.port}" for a in here) or f"this laptop's address:{offer.port}"
            click.echo(f"code {offer.code}  (valid {minutes} min)\non the new laptop: fieldkit network join "
                       f"{offer.code} ADDRESS   where ADDRESS is one of {addresses}")
            if here:
                click.echo(f"or, in one go: fieldkit network join '{join_link(offer.code, [(a, offer.port) for a in here])}'")
            try:
                return await offer.wait()
            finally:
                await offer.close()

        device = asyncio.run(run())
    click.echo(f"enrolled laptop {device}")


@network.command("join")
@click.argument("code")
@click.argument("address", required=False)
@click.pass_obj
def network_join(context: Context, code: str, address: str | None) -> None:
    """Join the network of the supervisor's laptop at ADDRESS with the code it shows.

    Or give only the join link its QR code holds (fieldkit:join?code=…&at=…), as a scanner types it.
    """
    from fieldkit.sync import membership
    from fieldkit.sync.enrolment import LINK, join_any, read_link

    if address is None:
        if not code.startswith(LINK):
            raise click.UsageError("give the code and the supervisor's ADDRESS, or the join link")
        code, addresses = read_link(code)
    else:
        addresses = [_address(address, ENROL_PORT)]
    clinic = context.clinic()
    with clinic.store:
        if membership.member(clinic.store):
            raise click.ClickException("this laptop is already in a network")
        network, certificate = asyncio.run(join_any(code, addresses, device_key=membership.device_key(clinic.store)))
        member = membership.join(clinic.store, network, certificate)
    click.echo(f"joined network {member.network.name} ({member.network.id})")


@network.command("revoke")
@click.argument("device")
@click.option("--reason", default="", help="Why (lost, stolen, retired); kept with the revocation.")
@click.pass_obj
def network_revoke(context: Context, device: str, reason: str) -> None:
    """Revoke a laptop (its id or a unique prefix); peers refuse it once the revocation reaches them."""
    from fieldkit.sync import membership

    clinic = _supervisor(context)
    with clinic.store:
        member = membership.load(clinic.store)
        matches = [d for d in clinic.store.certificates() if d.startswith(device)] or (
            [device] if len(device) == 32 else [])
        if len(matches) != 1:
            raise click.ClickException(f"{device!r} matches {len(matches)} known laptops: give more of its id")
        membership.revoke(clinic.store, member, matches[0], user=clinic.user.id, reason=reason)
    click.echo(f"revoked laptop {matches[0]}; the revocation spreads with the next syncs")


@click.group()
def sync() -> None:
    """Sync with laptops on the LAN."""


@sync.command("serve")
@click.option("--host", default="0.0.0.0", show_default=True)
@click.option("--port", default=SYNC_PORT, show_default=True)
@click.pass_obj
def sync_serve(context: Context, host: str, port: int) -> None:
    """Advertise this laptop, accept peers, and sync with peers as they appear, until stopped.

    Forwards to the hub too, when `fieldkit hub push --url` has named one."""
    from fieldkit.sync import membership
    from fieldkit.sync.engine import Engine

    clinic = context.clinic()
    with clinic.store:
        member = membership.load(clinic.store)

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

            engine = Engine(clinic.store, member, host=host, port=port, on_change=show)
            async with engine:
                click.echo(f"serving network {member.network.name} as {member.device_id[:8]} on {host}:{engine.port}")
                await stop.wait()

        asyncio.run(run())


@sync.command("now")
@click.argument("peer", required=False)
@json_option
@click.pass_obj
def sync_now(context: Context, peer: str | None, as_json: bool) -> None:
    """One round with PEER (HOST:PORT, or a laptop id or prefix seen on the LAN), or with every peer seen."""
    from fieldkit.sync import membership
    from fieldkit.sync.discovery import Discovery
    from fieldkit.sync.messages import PROTOCOL
    from fieldkit.sync.peer import sync_with

    clinic = context.clinic()
    with clinic.store:
        member = membership.load(clinic.store)

        def progress(report) -> None:
            if not as_json:
                click.echo(f"\r{report.peer[:8]}: sent {report.sent}/{report.to_send}, "
                           f"received {report.received}/{report.to_receive}", nl=False, err=True)

        async def run() -> list[dict[str, Any]]:
            if peer and ":" in peer:
                host, port = _address(peer, SYNC_PORT)
                targets = [(host, port, None)]
            else:
                async with Discovery(network_id=member.network.id, device_id=member.device_id, port=0,
                                     protocol=PROTOCOL, advertise=False) as discovery:
                    deadline = time.monotonic() + LOOK_FOR
                    while time.monotonic() < deadline and not _chosen(discovery.peers(), peer):
                        await asyncio.sleep(0.1)
                    targets = [(s.host, s.port, s.device_id) for s in _chosen(discovery.peers(), peer)]
                if not targets:
                    raise click.ClickException(f"no laptop {peer or 'of ' + member.network.name} in sight")
            results = []
            for host, port, device in targets:
                try:
                    report = await sync_with(clinic.store, member, host, port, expect=device, progress=progress)
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

    clinic = context.clinic()
    with clinic.store:
        member = membership.load(clinic.store)
        ours = clinic.store.version_vector()
        peers = clinic.store.peers()
    rows = [{"device": p["device"], "address": p["address"], "last_sync": p["last_sync"], "error": p["error"],
             "they_lack": lacking(p["vector"], ours), "we_lack": lacking(ours, p["vector"])} for p in peers]
    report = {"network": member.network.id, "device": member.device_id, "entries": sum(ours.values()),
              "peers": rows}
    emit(report, as_json, "\n".join([f"network {member.network.name}, this laptop {member.device_id[:8]}, "
                                     f"{report['entries']} entries"] + [
        f"{r['device'][:8]} {r['address']}: last sync {r['last_sync'] or 'never'}, they lack {r['they_lack']}, "
        f"we lack {r['we_lack']}" + (f", last error: {r['error']}" if r["error"] else "") for r in rows]))
