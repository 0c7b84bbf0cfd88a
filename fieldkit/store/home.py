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

    def holds(self, path: Path) -> bool:
        """Whether `path` is this data directory or lies inside it: lists, exports and letters are
        written where the user chooses, never here, where they would sit unencrypted beside the
        database."""
        target = Path(path).expanduser().resolve()
        return self.path.expanduser().resolve() in (target, *target.parents)

    def make(self) -> None:
        # Owner-only: the database is encrypted, but staff names and sealed keys need not be read.
        self.path.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.path.chmod(0o700)  # a folder that already existed keeps its mode otherwise

    def exposure(self) -> str | None:
        """Why other users of this machine could read the keystore (staff names, and sealed keys
        to guess passphrases against offline), or None."""
        if not self.path.stat().st_mode & 0o077:
            return None  # nobody else may enter the folder, whatever its files' modes
        if not any(path.exists() and path.stat().st_mode & 0o044 for path in (self.keystore, self.database)):
            return None
        return (f"other users of this machine can read the clinic's files in {self.path}: "
                f"run `chmod 700 {self.path}` (fieldkit will not open it until then)")


def owner_only(path: Path) -> None:
    """Create `path` empty and readable by its owner alone, unless it exists. SQLite gives the
    WAL, shared-memory and rollback journal files it makes beside a database the database's own
    mode, so this one call covers them too (a folder left 0755 by someone then exposes nothing)."""
    try:
        os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
    except OSError:  # there already, or the folder is missing or full: SQLite then says so in its own terms
        pass
