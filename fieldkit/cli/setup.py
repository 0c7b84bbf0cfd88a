"""`fieldkit init` (a new clinic on this laptop) and `fieldkit demo` (a ready demo clinic)."""

from __future__ import annotations

import os
import sys

import click

from fieldkit.cli.context import DEMO_PASSPHRASE, DEMO_USER, Context, open_tui

LAB_FILE = "lab-file-example.csv"  # the next screening round's results, as the demo's lab sends them


@click.command()
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


@click.command()
@click.option("--patients", default=3000, show_default=True, help="How many patients to generate.")
@click.option("--no-tui", is_flag=True, help="Only create and seed the demo clinic.")
@click.option("--seed", default=2026, show_default=True, help="Random seed for the generated records.")
@click.pass_obj
def demo(context: Context, patients: int, no_tui: bool, seed: int) -> None:
    """Create (once) a demo clinic with realistic patients in five languages, then open it."""
    from fieldkit.records.demo import opening, seed_clinic
    from fieldkit.records.demo_programmes import seed_programmes
    from fieldkit.records.demo_screening import lab_file, seed_screening
    from fieldkit.store.home import Home
    from fieldkit.store.session import create_clinic
    from fieldkit.sync.identity import new_device_key

    home = Home.resolve(context.home_option or _demo_home())
    if not home.exists:
        key, device = new_device_key()
        store, user = create_clinic(home, supervisor=DEMO_USER, passphrase=DEMO_PASSPHRASE,
                                    device_id=device, device_key=key, wall=opening)
        with store:
            with click.progressbar(length=patients, label="Registering demo patients", file=sys.stderr) as bar:
                report = seed_clinic(store, user.id, patients, seed=seed,
                                     progress=lambda done, total: bar.update(done - bar.pos))
            seed_programmes(store, user, seed=seed)
            seed_screening(store, user, seed=seed)
            lab_file(store, home.path / LAB_FILE)
        click.echo(f"seeded {report.patients} patients and {report.encounters} encounters "
                   f"in {report.seconds:.1f} s", err=True)
    click.echo(f"demo clinic: {home.path}\nuser: {DEMO_USER}\npassphrase: {DEMO_PASSPHRASE}")
    if (home.path / LAB_FILE).exists():
        click.echo(f"a lab's file to try importing: {home.path / LAB_FILE} (template homs-phl)")
    if not no_tui:
        context.home_option, context.user_option = str(home.path), DEMO_USER
        context.demo_passphrase = DEMO_PASSPHRASE
        open_tui(context)


def _demo_home() -> str:
    data = os.environ.get("XDG_DATA_HOME") or os.path.join(os.path.expanduser("~"), ".local", "share")
    return os.path.join(data, "fieldkit-demo")
