"""Lists written to a file a spreadsheet opens: only where the user says, never into the clinic's data."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import click


def write_rows(path: str, rows: Iterable[Mapping[str, Any]], columns: Iterable[str], data_dir: Path) -> None:
    from fieldkit.records.registry import to_csv
    from fieldkit.store.home import Home

    target = Path(path).expanduser().resolve()
    if Home(data_dir).holds(target):
        raise click.ClickException("lists are written where you choose, never into the clinic's data folder")
    target.write_text(to_csv(rows, columns), encoding="utf-8")
    click.echo(f"wrote {target}", err=True)
