"""Where a laptop keeps its clinic: FIELDKIT_HOME, or --home, or the XDG data directory."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Home:
    path: Path

    @classmethod
    def resolve(cls, option: str | os.PathLike | None = None) -> "Home":
        if option:
            return cls(Path(option).expanduser())
        if os.environ.get("FIELDKIT_HOME"):
            return cls(Path(os.environ["FIELDKIT_HOME"]).expanduser())
        data = Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")
        return cls(data / "fieldkit")

    @property
    def database(self) -> Path:
        return self.path / "clinic.db"

    @property
    def keystore(self) -> Path:
        return self.path / "keystore.db"

    @property
    def exists(self) -> bool:
        return self.keystore.exists() and self.database.exists()

    def make(self) -> None:
        # Owner-only: the database is encrypted, but staff names and sealed keys need not be read.
        self.path.mkdir(parents=True, exist_ok=True, mode=0o700)
