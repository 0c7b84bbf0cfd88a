"""`fieldkit lab`: import a lab's file (dry run first), record and correct results, the quarantine;
`fieldkit round`: screening rounds."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date
from typing import Any

import click

from fieldkit.cli.context import Context, emit, json_option
from fieldkit.cli.reports import write_rows


@click.group()
def lab() -> None:
    """Lab results: a lab's file imported through its template, or typed one by one."""


@contextmanager
def _progress(label: str) -> Iterator[Callable[[int, int], None]]:
    """A progress bar on stderr while a long step runs, where someone watches: a script reading
    stderr sees only what went wrong."""
    stream = sys.stderr
    if not stream.isatty():
        yield lambda done, total: None
        return
    with click.progressbar(length=1, label=label, file=stream) as bar:
        def moved(done: int, total: int) -> None:
            bar.length = total
            bar.update(done - bar.pos)

        yield moved


def _summary(counts: dict[str, int]) -> str:
    return (f"{counts['rows']} rows: {counts['ok']} ok, {counts['errors']} with errors, {counts['quarantined']} "
            f"quarantined, {counts['already']} already there; {counts['new_results']} new results, "
            f"{counts['corrections']} corrections")


@lab.command("import")
@click.argument("path", metavar="FILE", type=click.Path(exists=True, dir_okay=False))
@click.option("--template", "template_id", required=True, help="The lab's template (see `fieldkit lab templates`).")
@click.option("--round", "round_id", help="The screening round the results belong to (id or name).")
@click.option("--dry-run", is_flag=True, help="Check the file and report; write nothing.")
@click.option("--errors", "errors_path", type=click.Path(dir_okay=False),
              help="Write the problems (row, column, code, message) to this CSV file.")
@json_option
@click.pass_obj
def import_file(context: Context, path: str, template_id: str, round_id: str | None, dry_run: bool,
                errors_path: str | None, as_json: bool) -> None:
    """Check a lab's file, then (unless --dry-run) import it in one transaction. Rows that match no
    patient wait in the quarantine; rows with errors are listed and written nowhere."""
    from fieldkit.records import lab_import

    store, user = context.open()
    with store:
        with _progress("checking") as checking:
            plan = store.read(lambda db: lab_import.check(path, template_id, db, round_id=round_id, progress=checking))
        if errors_path:
            write_rows(errors_path, lab_import.error_rows(plan), lab_import.ERROR_COLUMNS, context.home.path)
        report: dict[str, Any] = {"file": plan.file_name, "sha256": plan.sha256, "template": plan.template.ref,
                                  "round_id": plan.round_id, "counts": plan.counts, "refused": plan.refusal,
                                  "problems": len(lab_import.error_rows(plan))}
        if not dry_run:  # a file imported before is refused here, in one line
            with _progress("importing") as writing:
                done = store.write(lambda tx: lab_import.commit(tx, user, plan, progress=writing))
            report |= {"import_id": done.import_id, "counts": done.counts, "follow_ups": done.follow_ups}
    lines = [_summary(report["counts"])]
    if dry_run:
        lines.append("dry run: nothing written" + (f"; an import would be refused: {plan.refusal}" if plan.refusal else ""))
    else:
        lines.append(f"imported as {report['import_id']}; follow-up tasks raised: {report['follow_ups']}")
    if report["problems"] and not errors_path:
        lines.append(f"{report['problems']} problems: list them with --errors FILE.csv")
    emit(report, as_json, "\n".join(lines))


@lab.command("templates")
@json_option
@click.pass_obj
def templates(context: Context, as_json: bool) -> None:
    """The labs' templates (shipped, plus the site's lab_templates/*.toml)."""
    from fieldkit.records import lab_templates, site

    site.use(context.home.path)
    found = lab_templates.templates()
    emit({tid: t.model_dump(mode="json") for tid, t in found.items()}, as_json,
         "\n".join(f"{t.id:<20} v{t.version}  {t.lab}: {t.description}" for t in found.values()))


@lab.command("tests")
@json_option
@click.pass_obj
def tests(context: Context, as_json: bool) -> None:
    """The tests results are recorded for, with their LOINC codes and units."""
    from fieldkit.records import lab_codes, site

    site.use(context.home.path)
    found = lab_codes.tests()
    emit({code: t.model_dump(mode="json") for code, t in found.items()}, as_json,
         "\n".join(f"{t.code:<14} {t.loinc:<8} {t.kind:<8} {' '.join(t.units) or '-':<16} {t.display}"
                   for t in found.values()))


@lab.command("add")
@click.argument("patient_id", metavar="PATIENT")
@click.argument("test")
@click.argument("value")
@click.option("--unit", default="", help="UCUM, e.g. m[IU]/mL (a lab's spelling listed as an alias also does).")
@click.option("--collected", help="The day the sample was taken (default today).")
@click.option("--issued", help="The day the result was issued.")
@click.option("--preliminary", is_flag=True, help="Not final yet.")
@click.option("--sample", "sample_id", default="", help="The sample's id (its barcode).")
@click.option("--lab", "lab_name", default="")
@click.option("--round", "round_id", default="", help="The screening round (id or name).")
@click.option("--range", "printed_range", default="", help="The lab's reference range, e.g. 3.5-5.0 (default the test's).")
@click.option("--flag", default="", help="The lab's flag: H, L, N, A, POS, NEG.")
@click.option("--note", default="")
@json_option
@click.pass_obj
def add(context: Context, patient_id: str, test: str, value: str, unit: str, collected: str | None, issued: str | None,
        preliminary: bool, sample_id: str, lab_name: str, round_id: str, printed_range: str, flag: str, note: str,
        as_json: bool) -> None:
    """Record one result, e.g. `fieldkit lab add P anti-hbs 12.5 --unit m[IU]/mL`."""
    from fieldkit.records import labs

    clinic = context.clinic()
    with clinic.store:
        result_id = clinic.run(labs.record, {
            "patient_id": patient_id, "test": test, "value": value, "unit": unit,
            "collected": collected or date.today().isoformat(), "issued": issued,
            "status": "preliminary" if preliminary else "final", "sample_id": sample_id, "lab": lab_name,
            "round_id": round_id, "range": printed_range, "flag": flag, "note": note})
        saved = clinic.store.read(lambda db: labs.result(db, result_id))
    emit(saved, as_json, f"{result_id}  {_line(saved)}")


def _line(r: dict[str, Any]) -> str:
    reading = " ".join(str(r[name]) for name in ("value", "unit", "coded", "text") if r.get(name))
    return (f"{r['collected']}  {r['test_name']:<20} {reading:<18} {r['interpretation'] or '':<4} {r['status']}"
            + (f"  ({r['note']})" if r.get("note") else ""))


@lab.command("list")
@click.argument("patient_id", metavar="PATIENT")
@json_option
@click.pass_obj
def list_results(context: Context, patient_id: str, as_json: bool) -> None:
    """A patient's results, newest first (those entered in error are listed, marked)."""
    from fieldkit.records import labs

    store, _user = context.open()
    with store:
        found = store.read(lambda db: labs.results_of(db, patient_id))
    emit(found, as_json, "\n".join(f"{r['id']}  {_line(r)}" for r in found) or "no results")


@lab.command("history")
@click.argument("result_id", metavar="RESULT")
@json_option
@click.pass_obj
def history(context: Context, result_id: str, as_json: bool) -> None:
    """Every version of one result: who changed it, when, and what it said before."""
    from fieldkit.records import labs

    store, _user = context.open()
    with store:
        steps = store.read(lambda db: labs.history(db, result_id))
    emit(steps, as_json, "\n".join(
        f"{s['at']}  {s['author_name']:<12} {s['status']:<16} "
        + " ".join(str(s[name]) for name in ("value", "unit", "coded", "text") if s.get(name))
        + (f"  ({s['note']})" if s.get("note") else "") for s in steps))


@lab.command("correct")
@click.argument("result_id", metavar="RESULT")
@click.argument("value")
@click.option("--unit", default=None, help="The unit, when that was wrong too.")
@click.option("--reason", required=True, help="Why: kept with the correction.")
@click.pass_obj
def correct(context: Context, result_id: str, value: str, unit: str | None, reason: str) -> None:
    """Correct a result's value; it becomes "corrected" and the old value stays in its history."""
    from fieldkit.records import labs

    clinic = context.clinic()
    with clinic.store:
        clinic.run(labs.correct, result_id, value, unit=unit, reason=reason)
    click.echo(f"{result_id} corrected")


@lab.command("cancel")
@click.argument("result_id", metavar="RESULT")
@click.option("--reason", required=True)
@click.pass_obj
def cancel(context: Context, result_id: str, reason: str) -> None:
    """The test was not done after all (sample lost or unusable)."""
    from fieldkit.records import labs

    clinic = context.clinic()
    with clinic.store:
        clinic.run(labs.cancel, result_id, reason)
    click.echo(f"{result_id} cancelled")


@lab.command("error")
@click.argument("result_id", metavar="RESULT")
@click.option("--reason", required=True)
@click.pass_obj
def entered_in_error(context: Context, result_id: str, reason: str) -> None:
    """Mark a result entered in error: it stays, marked, and no count reads it."""
    from fieldkit.records import labs

    clinic = context.clinic()
    with clinic.store:
        clinic.run(labs.entered_in_error, result_id, reason)
    click.echo(f"{result_id} entered in error")


@lab.command("quarantine")
@click.option("--import", "import_id", help="Only this import's rows.")
@click.option("--all", "every", is_flag=True, help="Matched and discarded rows too.")
@json_option
@click.pass_obj
def quarantine(context: Context, import_id: str | None, every: bool, as_json: bool) -> None:
    """Rows of a lab's file that matched no patient, waiting for a person to say whose they are."""
    from fieldkit.records import lab_quarantine

    store, _user = context.open()
    with store:
        found = store.read(lambda db: lab_quarantine.quarantined(db, import_id=import_id, status=None if every else "open"))
    emit(found, as_json, "\n".join(
        f"{r['id']}  row {r['import_row']:<5} {r['status']:<9} {r['problem']}  "
        + "; ".join(f"{k}: {v}" for k, v in r["data"].get("cells", {}).items()) for r in found) or "nothing waiting")


@lab.command("match")
@click.argument("row_id", metavar="ROW")
@click.argument("patient_id", metavar="PATIENT")
@click.pass_obj
def match(context: Context, row_id: str, patient_id: str) -> None:
    """Say whose a quarantined row is: its results are recorded for that patient."""
    from fieldkit.records import lab_quarantine

    clinic = context.clinic()
    with clinic.store:
        written = clinic.run(lab_quarantine.match_row, row_id, patient_id)
    click.echo("\n".join(written) or "nothing new: the results were held already")


@lab.command("discard")
@click.argument("row_id", metavar="ROW")
@click.option("--reason", required=True)
@click.pass_obj
def discard(context: Context, row_id: str, reason: str) -> None:
    """Set aside a quarantined row nobody can be matched to, saying why."""
    from fieldkit.records import lab_quarantine

    clinic = context.clinic()
    with clinic.store:
        clinic.run(lab_quarantine.discard_row, row_id, reason)
    click.echo(f"{row_id} discarded")


# -- screening rounds --------------------------------------------------------------------------------

@click.group("round")
def screening_round() -> None:
    """Screening rounds: a programme's periodic testing of a population."""


@screening_round.command("add")
@click.argument("name")
@click.option("--starts", required=True, help="First day.")
@click.option("--ends", help="Last day.")
@click.option("--test", "tests", multiple=True, required=True, help="A test's code (see `fieldkit lab tests`). Repeatable.")
@click.option("--programme", default="")
@click.option("--population", default="", help="Who is screened, in words.")
@click.pass_obj
def add_round(context: Context, name: str, starts: str, ends: str | None, tests: tuple[str, ...], programme: str,
              population: str) -> None:
    """Plan a round (a supervisor's)."""
    from fieldkit.records import screening

    clinic = context.clinic()
    with clinic.store:
        click.echo(clinic.run(screening.create_round, {"name": name, "starts": starts, "ends": ends, "tests": list(tests),
                                                       "programme": programme, "population": population}))


@screening_round.command("list")
@json_option
@click.pass_obj
def list_rounds(context: Context, as_json: bool) -> None:
    """Every round, the latest first."""
    from fieldkit.records import screening

    store, _user = context.open()
    with store:
        found = store.read(screening.rounds)
    emit(found, as_json, "\n".join(f"{r['id']}  {r['starts']} – {r['ends'] or '':<10}  {r['name']}  ({', '.join(r['tests'])})"
                                   for r in found) or "no rounds")


@screening_round.command("show")
@click.argument("round_id", metavar="ROUND")
@json_option
@click.pass_obj
def show_round(context: Context, round_id: str, as_json: bool) -> None:
    """A round's summary: people tested, and per test tested, positive, negative."""
    from fieldkit.records import screening

    store, _user = context.open()
    with store:
        summary = store.read(lambda db: screening.round_summary(db, round_id))
    planned = summary["round"]
    lines = [f"{planned['name']}  {planned['starts']} – {planned['ends'] or ''}  tested {summary['tested']} "
             f"({summary['results']} results)"]
    lines += [f"  {t['name']:<22} tested {t['tested']:<6} positive {t['positive']:<5} negative {t['negative']:<6} "
              f"indeterminate {t['indeterminate']:<4} high {t['high']:<4} low {t['low']}" for t in summary["tests"].values()]
    emit(summary, as_json, "\n".join(lines))
