"""`fieldkit network …`: create a clinic network, enrol laptops into it, revoke them, review what
they wrote after the revocation.

Every command unlocks the clinic, because the network key and certificates live in the
encrypted database.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import click

from fieldkit.cli.context import Context, emit, host_port, json_option
from fieldkit.sync import ENROL_PORT


@click.group()
def network() -> None:
    """Create a clinic network, enrol laptops into it, revoke them."""


@network.command("create")
@click.argument("name")
@click.pass_obj
def network_create(context: Context, name: str) -> None:
    """Start a network on this laptop, which then holds its key (a supervisor's laptop)."""
    from fieldkit.sync import membership

    store, _ = context.supervisor()
    with store:
        member = membership.create(store, name)
    click.echo(f"network {member.network.name} ({member.network.id})\nthis laptop {member.device_id} holds its key")


@network.command("show")
@json_option
@click.pass_obj
def network_show(context: Context, as_json: bool) -> None:
    """This laptop's network, the laptops it knows and those revoked."""
    from fieldkit.sync import membership

    store, _ = context.open()
    with store:
        member = membership.load(store)
        known, revoked, held = sorted(store.certificates()), sorted(store.revoked()), len(store.held())
    report = {"network": member.network.id, "name": member.network.name, "device": member.device_id,
              "holds_network_key": member.network_key is not None, "laptops": known, "revoked": revoked,
              "held": held}
    emit(report, as_json, "\n".join([
        f"network {member.network.name} ({member.network.id})", f"this laptop {member.device_id}"
        + (" (holds the network key)" if member.network_key else ""),
        f"laptops known: {len(known)}", *(f"  {d}{'  revoked' if d in revoked else ''}" for d in known),
        *([f"entries held since a revocation: {held} (fieldkit network held)"] if held else [])]))


@network.command("enrol")
@click.option("--port", default=ENROL_PORT, show_default=True)
@click.option("--minutes", default=10, show_default=True, help="How long the code stays valid.")
@click.option("--interface", "interfaces", multiple=True, metavar="ADDRESS",
              help="Offer the code only on this address of the laptop (repeat for several); default: every one.")
@click.pass_obj
def network_enrol(context: Context, port: int, minutes: int, interfaces: tuple[str, ...]) -> None:
    """Show a one-time code and wait for one new laptop to join with it."""
    import asyncio

    from fieldkit.sync import membership
    from fieldkit.sync.discovery import lan_addresses
    from fieldkit.sync.enrolment import Offer, join_link, new_code

    store, _ = context.supervisor()
    with store:
        member = membership.load(store)
        if member.network_key is None:
            raise click.ClickException("this laptop does not hold the network key")
        offer = Offer(new_code(), member.network_key, member.network, lifetime=minutes * 60.0)

        async def run() -> str:
            await offer.serve(list(interfaces) or "0.0.0.0", port)
            here = list(interfaces) or lan_addresses()
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
    import asyncio

    from fieldkit.sync import membership
    from fieldkit.sync.enrolment import LINK, join_any, read_link

    if address is None:
        if not code.startswith(LINK):
            raise click.UsageError("give the code and the supervisor's ADDRESS, or the join link")
        code, addresses = read_link(code)
    else:
        addresses = [host_port(address, ENROL_PORT)]
    store, _ = context.open()
    with store:
        if membership.member(store):
            raise click.ClickException("this laptop is already in a network")
        network, certificate = asyncio.run(join_any(code, addresses, device_key=membership.device_key(store)))
        member = membership.join(store, network, certificate)
    click.echo(f"joined network {member.network.name} ({member.network.id})")


@network.command("revoke")
@click.argument("device")
@click.option("--reason", default="", help="Why (lost, stolen, retired); kept with the revocation.")
@click.pass_obj
def network_revoke(context: Context, device: str, reason: str) -> None:
    """Revoke a laptop (its id or a unique prefix); peers refuse it once the revocation reaches them."""
    from fieldkit.sync import membership

    store, user = context.supervisor()
    with store:
        member = membership.load(store)
        laptop = _one_laptop(device, store.certificates(), "known")
        entry = membership.revoke(store, member, laptop, user=user.id, reason=reason)
    cutoff = entry.payload["cutoff"]
    click.echo(f"revoked laptop {laptop}; its entries up to #{cutoff} stand, any later ones are held for a "
               "supervisor on every laptop and the hub; the revocation spreads with the next syncs")


@network.command("held")
@json_option
@click.pass_obj
def network_held(context: Context, as_json: bool) -> None:
    """Entries held back since a revocation: written by a revoked laptop or user after its cut-off."""
    from fieldkit.records.queries import when

    store, _ = context.open()
    with store:
        held, cutoffs = store.held(), store.cutoffs()
    # "claimed": the time is the writing laptop's own clock, which is what a revocation cannot trust
    rows: list[dict[str, Any]] = [
        {"origin": e.origin, "seq": e.seq, "entity": e.entity, "id": e.entity_id, "op": e.op, "author": e.author,
         "claimed_time": when(e.version)} for e in held]
    emit({"laptops": cutoffs.devices, "users": cutoffs.users, "held": rows}, as_json, "\n".join([
        *(f"laptop {device} revoked: entries after #{seq} held" for device, seq in sorted(cutoffs.devices.items())),
        *(f"user {user} revoked" for user in sorted(cutoffs.users)),
        f"held: {len(rows)}",
        *(f"  {r['origin'][:8]}#{r['seq']}  {r['op']} {r['entity']} {r['id'][:12]}  by {r['author'][:8]}  "
          f"claimed {r['claimed_time']}" for r in rows)]))


@network.command("release")
@click.argument("device")
@click.option("--up-to", "up_to", type=int, required=True, help="Fold its held entries up to this sequence number.")
@click.option("--reason", default="", help="Why they are trusted (checked with the clinic, for example).")
@click.pass_obj
def network_release(context: Context, device: str, up_to: int, reason: str) -> None:
    """Fold a revoked laptop's held entries up to a sequence number, on every laptop and the hub."""
    from fieldkit.sync import membership

    store, user = context.supervisor()
    with store:
        member = membership.load(store)
        laptop = _one_laptop(device, store.cutoffs().devices, "revoked")
        membership.release(store, member, laptop, up_to, user=user.id, reason=reason)
    click.echo(f"released laptop {laptop}'s entries up to #{up_to}; the release spreads with the next syncs")


def _one_laptop(typed: str, among: Iterable[str], kind: str) -> str:
    """The one laptop among `among` whose id starts with what was typed (a whole id is taken as
    it is, in case this laptop never held that one's certificate)."""
    matches = [device for device in among if device.startswith(typed)] or ([typed] if len(typed) == 32 else [])
    if len(matches) != 1:
        raise click.ClickException(f"{typed!r} matches {len(matches)} {kind} laptops: give more of its id")
    return matches[0]
