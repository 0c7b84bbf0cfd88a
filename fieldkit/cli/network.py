"""`fieldkit network …`: create a clinic network, enrol laptops into it, revoke them.

Every command unlocks the clinic, because the network key and certificates live in the
encrypted database.
"""

from __future__ import annotations

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
        known, revoked = sorted(store.certificates()), sorted(store.revoked())
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
        matches = [d for d in store.certificates() if d.startswith(device)] or (
            [device] if len(device) == 32 else [])
        if len(matches) != 1:
            raise click.ClickException(f"{device!r} matches {len(matches)} known laptops: give more of its id")
        membership.revoke(store, member, matches[0], user=user.id, reason=reason)
    click.echo(f"revoked laptop {matches[0]}; the revocation spreads with the next syncs")
