"""`fieldkit letter`: print a referral or treatment letter, and verify a scanned one."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from fieldkit.cli.context import Context, emit, json_option
from fieldkit.i18n import LANGUAGES


@click.group()
def letter() -> None:
    """Referral and treatment letters: PDF with a signed QR code."""


@letter.command("print")
@click.argument("referral_id")
@click.option("--out", "out", required=True, type=click.Path(dir_okay=False), help="Where to write the PDF.")
@click.option("--kind", type=click.Choice(["referral", "treatment"]), default="referral",
              help="A treatment letter needs the board's approval first.")
@click.option("--language", type=click.Choice(list(LANGUAGES)), help="The letter's language (default: yours).")
@click.pass_obj
def print_letter(context: Context, referral_id: str, out: str, kind: str, language: str | None) -> None:
    """Write the letter where you say (never into the data directory); refuses, naming what is
    missing, when an essential item is not recorded."""
    from fieldkit.letters import compose

    store, user = context.open()
    with store:
        language = language or user.language
        written = compose.print_letter(store, user, referral_id, kind, Path(out), data_dir=context.home.path,
                                       language=language)
    click.echo(str(written))


@letter.command("verify")
@click.argument("scanned", required=False)
@json_option
@click.pass_obj
def verify(context: Context, scanned: str | None, as_json: bool) -> None:
    """Check a letter's code as a USB scanner types it (argument or standard input): valid,
    altered, or signed by a revoked or unknown laptop. Exits 1 unless valid."""
    from fieldkit.letters import compose

    text = scanned if scanned is not None else sys.stdin.readline()
    store, _user = context.open()
    with store:
        verdict = compose.check(store, text)
    emit({"status": verdict.status, "referral_id": verdict.referral_id, "issued": verdict.issued,
          "device_id": verdict.device_id, "message": verdict.message}, as_json, verdict.message)
    if verdict.status != "valid":
        sys.exit(1)
