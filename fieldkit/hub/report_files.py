"""Reports as files a programme manager downloads: CSV for Excel, CSV for data tools, and XLSX.

Every file first names what it is: the report and its version, what it counts, its parameters,
when it was made, and the laptops whose rows it includes but the hub has not heard from lately
(reference/clinical.md G, test 5); then the table. Rows are written as they are read (a line list
without a limit reads page by page), so a file of any length is written in bounded memory.

- "excel" CSV: UTF-8 with a BOM, without which Excel reads Arabic as mojibake; text cells that
  begin like a formula are escaped (records/registry.py `safe_cell`), numbers never are.
- "data" CSV: no BOM (it breaks some machine readers), values as they are; the lines that name the
  report start with "#" (pandas: `comment="#"`), then a blank line, then the table.
- XLSX: xlsxwriter in `constant_memory` mode, each row flushed as written. Text is always written
  as text, so no cell is ever a formula. xlsxwriter keeps the sheet in a temporary file until the
  file is assembled: it is made in a private folder in /dev/shm (memory, never the disk: no
  plaintext of patients' data on disk, DESIGN decision 4) and removed whatever happens; where
  there is no /dev/shm, the sheet is built in memory instead.
"""

from __future__ import annotations

import csv
import io
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import xlsxwriter

from fieldkit.errors import FieldkitError
from fieldkit.hub.reports import Report
from fieldkit.i18n import _
from fieldkit.records.registry import safe_cell

FORMATS = ("excel", "data", "xlsx")
MEDIA = {"excel": "text/csv; charset=utf-8", "data": "text/csv; charset=utf-8",
         "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}
SUFFIX = {"excel": ".csv", "data": ".csv", "xlsx": ".xlsx"}
MEMORY = Path("/dev/shm")
_CHUNK = 2000  # rows per piece of a CSV handed on


def about(report: Report) -> list[tuple[str, str]]:
    """What the file is, as (label, value) rows above its table."""
    d = report.definition
    stale = ", ".join(f"{device} ({last or _('never')})" for device, last in report.stale_devices)
    return [(_("report"), f"{_(d.title)} ({d.ref})"), (_("counts"), report.unit),
            (_("parameters"), "; ".join(f"{name}={value}" for name, value in sorted(report.parameters.items()))),
            (_("generated"), report.generated_at), (_("total"), str(report.total)),
            (_("laptops not heard from lately"), stale or _("none"))]


def _cells(report: Report) -> Iterator[list[Any]]:
    columns = list(report.columns)
    for row in report.rows:
        yield [row.get(column) for column in columns]


def csv_pieces(report: Report, flavour: str = "excel") -> Iterator[bytes]:
    """The report as CSV, in pieces of a few thousand rows (for a streamed download)."""
    if flavour not in ("excel", "data"):
        raise FieldkitError(_("a CSV is “excel” or “data”, not “{flavour}”").format(flavour=flavour))
    excel = flavour == "excel"
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n" if excel else "\n")
    if excel:
        out.write("\ufeff")
        writer.writerows([[label, safe_cell(value)] for label, value in about(report)])
    else:
        out.write("".join(f"# {label}: {value}\n" for label, value in about(report)))
    writer.writerow([])
    writer.writerow(report.columns)
    for n, cells in enumerate(_cells(report), start=1):
        writer.writerow([safe_cell(cell) for cell in cells] if excel else ["" if cell is None else cell for cell in cells])
        if n % _CHUNK == 0:
            yield out.getvalue().encode()
            out.seek(0)
            out.truncate()
    yield out.getvalue().encode()


def write_csv(report: Report, out: IO[bytes], flavour: str = "excel") -> None:
    for piece in csv_pieces(report, flavour):
        out.write(piece)


def write_xlsx(report: Report, out: IO[bytes] | str | Path) -> int:
    """The report as an XLSX workbook of one sheet; returns the table's rows written."""
    private = tempfile.mkdtemp(prefix="fieldkit-xlsx-", dir=MEMORY) if MEMORY.is_dir() and os.access(MEMORY, os.W_OK) \
        else None
    options: dict[str, Any] = {"constant_memory": True, "tmpdir": private} if private else {"in_memory": True}
    try:
        book = xlsxwriter.Workbook(out, {**options, "strings_to_formulas": False, "strings_to_numbers": False,
                                         "strings_to_urls": False})
        sheet = book.add_worksheet(report.definition.id[:31])
        bold = book.add_format({"bold": True})
        line = 0
        for label, value in about(report):
            sheet.write_string(line, 0, label, bold)
            sheet.write_string(line, 1, value)
            line += 1
        line += 1
        for column, name in enumerate(report.columns):
            sheet.write_string(line, column, name, bold)
        written = 0
        for cells in _cells(report):
            line += 1
            for column, cell in enumerate(cells):
                if isinstance(cell, (int, float)) and not isinstance(cell, bool):
                    sheet.write_number(line, column, cell)
                elif cell is not None:
                    sheet.write_string(line, column, str(cell))
            written += 1
        book.close()
        return written
    finally:
        if private:
            shutil.rmtree(private, ignore_errors=True)


def file_bytes(report: Report, flavour: str) -> bytes:
    """The whole file at once: for small reports and the tests."""
    out = io.BytesIO()
    if flavour == "xlsx":
        write_xlsx(report, out)
    else:
        write_csv(report, out, flavour)
    return out.getvalue()
