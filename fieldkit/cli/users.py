"""`fieldkit user …`: the people who sign in on this laptop, and their roles."""

from __future__ import annotations

import os

import click

from fieldkit.cli.context import Context, emit, json_option
from fieldkit.i18n import LANGUAGES
from fieldkit.permissions import ROLES


@click.group()
def user() -> None:
    """Users of this laptop and their roles."""


@user.command("add")
@click.argument("name")
@click.option("--role", type=click.Choice(ROLES), required=True)
@click.option("--language", default="en", show_default=True, type=click.Choice(list(LANGUAGES)))
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


@user.command("revoke")
@click.argument("name")
@click.option("--reason", default="", help="Why (left the programme, passphrase known to others).")
@click.pass_obj
def user_revoke(context: Context, name: str, reason: str) -> None:
    """Revoke a user (a name or id from the clinic's users) on every laptop: she can no longer sign in,
    and entries of hers that no laptop showed this one before now are held for a supervisor."""
    from fieldkit.records.queries import staff_named
    from fieldkit.store.session import revoke_user

    store, by = context.open()
    with store:
        users = store.read(lambda conn: staff_named(conn, name))
        if len(users) != 1:
            raise click.ClickException(f"{name!r} matches {len(users)} users: give more of her id")
        [(user_id, user_name)] = users
        revoke_user(context.home, store, by=by, user_id=user_id, reason=reason)
    click.echo(f"revoked {user_name} ({user_id}); the revocation spreads with the next syncs")
