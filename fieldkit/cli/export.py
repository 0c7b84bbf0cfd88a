"""`fieldkit export`: the clinic's records for national systems, one patient's summary to hand over;
written where the user says, never into the data folder (a supervisor's task, audited)."""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import click

from fieldkit.cli.context import Context, emit, json_option
from fieldkit.i18n import _


@click.group()
def export() -> None:
    """Records for national systems (FHIR R4), and patient summaries (IPS)."""


def _target(context: Context, output: str) -> Path:
    target = Path(output).expanduser().resolve()
    if context.home.holds(target):
        raise click.ClickException(_("exports are written where you choose, never into the clinic's data folder"))
    if not target.parent.is_dir():
        raise click.ClickException(_("no folder {folder}").format(folder=target.parent))
    return target


def _written(target: Path, write: Callable[[Any], Iterable[bytes]]) -> Callable[[Any], None]:
    """A read job that writes a file beside `target` and renames it once whole: a failed export
    leaves no half a file."""
    partial = target.with_name(target.name + ".part")

    def job(conn: Any) -> None:
        try:
            with partial.open("wb") as out:
                for chunk in write(conn):
                    out.write(chunk)
                out.flush()
                os.fsync(out.fileno())
        except BaseException:
            partial.unlink(missing_ok=True)
            raise
        partial.replace(target)
    return job


def _read_since(path: Path) -> dict[str, int] | None:
    """The vector the export before saved; None (everything) when there was none before."""
    from fieldkit.errors import FieldkitError
    from fieldkit.export.fhir_since import read_vector

    if not path.exists():
        return None
    try:
        return read_vector(path.read_bytes())
    except FieldkitError as exc:
        raise FieldkitError(_("{path}: {problem}").format(path=path, problem=exc)) from None


def _save_since(path: Path, vector: dict[str, int]) -> None:
    import orjson

    partial = path.with_name(path.name + ".part")
    with partial.open("wb") as out:
        out.write(orjson.dumps(vector, option=orjson.OPT_SORT_KEYS | orjson.OPT_APPEND_NEWLINE))
        out.flush()
        os.fsync(out.fileno())
    partial.replace(path)


@export.command("fhir")
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False), help="The file to write.")
@click.option("--type", "kind", type=click.Choice(["collection", "transaction"]), default="collection",
              show_default=True, help="collection: a file to hand over; transaction: for a FHIR server (PUT each).")
@click.option("--since-file", type=click.Path(dir_okay=False),
              help="Only what this database received after the export that wrote FILE (exact), and write FILE "
                   "anew once this export is whole. No FILE yet: everything.")
@click.option("--since", "since_date", metavar="DATE",
              help="Only what the laptops recorded after this date and time (2026-05-01T08:00), by their own "
                   "clocks. Approximate: a record made before it that arrives later is left out; use --since-file.")
@click.option("--patient", "patients", multiple=True, metavar="ID", help="Only this patient's records. Repeatable.")
@click.option("--no-validate", is_flag=True, help="Skip the FHIR model validation (fieldkit's own checks still run).")
@json_option
@click.pass_obj
def fhir(context: Context, output: str, kind: str, since_file: str | None, since_date: str | None,
         patients: tuple[str, ...], no_validate: bool, as_json: bool) -> None:
    """Write the records as one FHIR R4 Bundle. Prints how many resources of each type it holds."""
    from fieldkit.errors import FieldkitError
    from fieldkit.export import fhir as exporter
    from fieldkit.permissions import require

    if since_file and since_date:
        raise click.ClickException(_("give --since-file or --since, not both"))
    target = _target(context, output)
    position = Path(since_file).expanduser().resolve() if since_file else None
    since = _read_since(position) if position else None
    store, user = context.open()
    counts: Counter[str] = Counter()
    used: dict[str, Any] = {}

    def records(conn: Any) -> Iterable[bytes]:
        for patient_id in patients:
            if not conn.execute("SELECT 1 FROM patients WHERE id = ?", (patient_id,)).fetchone():
                raise FieldkitError(_("no patient with id {id}").format(id=patient_id))
        # Both vectors in this read: what the bundle holds is exactly what lies between them.
        used["since"] = exporter.vector_at(conn, since_date) if since_date else since
        used["next"] = exporter.next_since(conn)
        return exporter.stream(conn, kind=kind, since=used["since"], patient_ids=patients or None,
                               validate=not no_validate, counts=counts)

    with store:
        require(user.role, "export records")
        store.read(_written(target, records))
        if position:  # only once the bundle is whole: a failed export is retried from the same place
            _save_since(position, used["next"])
        detail = f"{kind} {sum(counts.values())} resources" + (
            f" since {since_date}" if since_date else " since the previous export" if since is not None else "")
        store.write(lambda tx: tx.audit_many(user.id, [("export fhir", patient_id, detail) for patient_id in patients]
                                             or [("export fhir", "", detail)]))
    click.echo(_("wrote {path}").format(path=target), err=True)
    lines = [*(f"{name:<28} {count:>7}" for name, count in sorted(counts.items())),
             f"{_('total'):<28} {sum(counts.values()):>7}"]
    if position:
        lines.append(_("the next export with --since-file {path} starts here").format(path=position))
    emit({"file": str(target), "type": kind, "since": used["since"], "counts": dict(sorted(counts.items())),
          "next_since": used["next"]}, as_json, "\n".join(lines))


@export.command("ips")
@click.argument("patient_id", metavar="PATIENT")
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False), help="The file to write.")
@click.option("--no-validate", is_flag=True, help="Skip the FHIR model validation (fieldkit's own checks still run).")
@json_option
@click.pass_obj
def ips(context: Context, patient_id: str, output: str, no_validate: bool, as_json: bool) -> None:
    """Write a patient's International Patient Summary (a FHIR document) to hand over on a referral
    or a transfer. Prints what each section lists."""
    from fieldkit.export import fhir_bundle
    from fieldkit.export import ips as summaries
    from fieldkit.export.fhir_codes import IPS_SECTIONS
    from fieldkit.permissions import require

    target = _target(context, output)
    store, user = context.open()
    made: dict[str, Any] = {}

    def document(conn: Any) -> Iterable[bytes]:
        made["bundle"] = summaries.summary(conn, patient_id, device_id=store.device_id, validate=not no_validate)
        return [fhir_bundle.dumps(made["bundle"])]

    with store:
        require(user.role, "export records")
        store.read(_written(target, document))
        store.write(lambda tx: tx.audit(user.id, "export ips", patient_id, made["bundle"]["identifier"]["value"]))
    sections = made["bundle"]["entry"][0]["resource"]["section"]  # in the order of IPS_SECTIONS
    click.echo(_("wrote {path}").format(path=target), err=True)
    emit({"file": str(target), "patient": patient_id, "document": made["bundle"]["identifier"]["value"],
          "sections": {name: len(item.get("entry", ())) for name, item in zip(IPS_SECTIONS, sections)}},
         as_json, "\n".join(f"{item['title']:<28} {len(item.get('entry', ())):>7}" for item in sections))
