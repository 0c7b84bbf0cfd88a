"""`fieldkit backup` (the clinic onto a stick, while it works) and `fieldkit restore` (onto a new laptop)."""

from __future__ import annotations

from pathlib import Path

import click

from fieldkit.cli.context import Context, emit, json_option


@click.command()
@click.argument("destination", type=click.Path(file_okay=False, path_type=Path))
@json_option
@click.pass_obj
def backup(context: Context, destination: Path, as_json: bool) -> None:
    """Back up the clinic into a new folder under DESTINATION (a stick): encrypted, with a manifest.

    The clinic screen may stay open: the copy is a snapshot taken while it goes on saving."""
    from fieldkit.store import backup as backups

    store, user, key = context.open_keyed()
    with store:
        made = backups.backup(context.home, store, key, user, destination)
    report = {"folder": str(made.folder), "entries": made.entries, "bytes": made.size,
              "seconds": round(made.seconds, 2)}
    emit(report, as_json, f"backed up {made.entries} entries into {made.folder} "
         f"({made.size / 1e6:.1f} MB, {made.seconds:.1f} s)\n"
         "restoring it needs your passphrase or a supervisor's")


@click.command()
@click.argument("folder", type=click.Path(exists=True, file_okay=False, path_type=Path))
@json_option
@click.pass_obj
def restore(context: Context, folder: Path, as_json: bool) -> None:
    """Restore a backup FOLDER onto this laptop (into an empty data directory).

    The laptop takes a new identity: it syncs once a supervisor enrols it, and never as the laptop
    the backup came from (revoke that one if it was lost)."""
    from fieldkit.store import backup as backups
    from fieldkit.sync.reidentify import reidentify

    manifest = backups.read_manifest(folder)
    passphrase = context.passphrase("Passphrase of the one who made the backup, or a supervisor's")
    restored = backups.restore(folder, context.home, passphrase)
    with restored.store as store:
        changed = reidentify(store, restored.user)
        state = store.state_hash()  # a new identity is meta only: the records are the backup's
    report = {"home": str(context.home.path), "entries": manifest["entries"], "made": manifest["created"],
              "state": state, "old_laptop": changed.old, "new_laptop": changed.new, "enrolled": changed.enrolled}
    text = [f"restored {manifest['entries']} entries (backup of {manifest['created']}) into {context.home.path}",
            f"this laptop is now {changed.new[:8]} (the backup's was {changed.old[:8]})"]
    text.append("it enrolled itself with the network key it holds" if changed.enrolled else
                "it syncs once a supervisor enrols it: `fieldkit network join`")
    text.append(f"if laptop {changed.old[:8]} was lost, a supervisor revokes it: "
                f"`fieldkit network revoke {changed.old[:8]}`")
    emit(report, as_json, "\n".join(text))
