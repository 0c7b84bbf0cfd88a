"""The hub's settings: defaults that work on a fresh machine, then `hub.toml` in the data
directory, then `FIELDKIT_HUB_<NAME>` environment variables (a container sets those)."""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from fieldkit.errors import FieldkitError

DEFAULT_PORT = 7400


class HubSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    data: Path  # the hub's identity (key, certificates) and, by default, its SQLite file
    host: str = "0.0.0.0"
    port: int = Field(DEFAULT_PORT, ge=0, le=65535)
    # The programme managers' pages (hub/web), on a port of their own with a certificate browsers
    # can use (hub/web/certificate.py); unset: the next port (any free one when `port` is 0); -1: none.
    pages_port: int | None = Field(None, ge=-1, le=65535)
    database: str = ""  # sqlite:///PATH or postgresql://…; empty: sqlite in `data`
    request_seconds: float = Field(60.0, gt=0)  # the longest one request may take
    max_ingest: int = Field(8, ge=1)  # uploads verified and stored at once; the rest wait…
    queue_seconds: float = Field(2.0, gt=0)  # …this long, then get 503 and a Retry-After
    retry_after: int = Field(3, ge=1)
    pull_limit: int = Field(2000, ge=1)  # entries per pulled batch
    # The SQLite store's key, 64 hex digits: from FIELDKIT_HUB_KEY, or from a file off the data
    # directory's disk (a USB key, a systemd credential). Never from hub.toml, which lives there.
    key: str = Field("", repr=False)
    key_file: Path | None = None
    stale_days: int = Field(7, ge=1)  # a report flags rows from laptops not heard from in this many days
    refresh_seconds: float = Field(2.0, ge=0)  # the reports' refresh waits this long after an upload for more

    @property
    def pages_at(self) -> int | None:
        """The port the pages listen on (0: any free one), or None when the hub serves none."""
        if self.pages_port is None:
            return self.port + 1 if self.port else 0
        return None if self.pages_port < 0 else self.pages_port

    @property
    def database_url(self) -> str:
        return self.database or f"sqlite:///{self.data / 'hub.db'}"

    @classmethod
    def load(cls, data: Path, environ: Mapping[str, str] | None = None, **given: Any) -> "HubSettings":
        env: Mapping[str, str] = os.environ if environ is None else environ
        values: dict = {}
        path = data / "hub.toml"
        if path.exists():
            try:
                values.update(tomllib.loads(path.read_text()))
            except tomllib.TOMLDecodeError as exc:
                raise FieldkitError(f"{path}: {exc}") from None
            if "key" in values:
                raise FieldkitError(f"{path}: the hub's key must not be kept in its data directory; "
                                    "give FIELDKIT_HUB_KEY or key_file")
        for name in cls.model_fields:
            if f"FIELDKIT_HUB_{name.upper()}" in env:
                values[name] = env[f"FIELDKIT_HUB_{name.upper()}"]
        values.update({k: v for k, v in given.items() if v is not None})
        try:
            return cls(data=data, **values)
        except ValidationError as exc:
            problem = exc.errors()[0]
            raise FieldkitError(f"hub setting {'.'.join(map(str, problem['loc']))}: {problem['msg']}") from None

    def database_key(self) -> bytes | None:
        """The key that encrypts the hub's SQLite file; None for PostgreSQL (see the README on
        its disk). A SQLite hub without a key refuses to start rather than store plaintext."""
        if not self.database_url.startswith("sqlite:///"):
            return None
        return self.stored_key()

    def stored_key(self) -> bytes:
        """The key given to the hub (FIELDKIT_HUB_KEY or key_file), whatever its database: it also
        encrypts the reports' replica (hub/replica.py)."""
        where, text = "FIELDKIT_HUB_KEY", self.key
        if not text:
            if self.key_file is None:
                raise FieldkitError("the hub's SQLite store is encrypted and needs a key: make one with "
                                    "`fieldkit hub key new PATH` (off the data directory's disk) and give "
                                    "key_file = PATH in hub.toml, FIELDKIT_HUB_KEY_FILE, or FIELDKIT_HUB_KEY")
            if self.key_file.resolve().is_relative_to(self.data.resolve()):
                raise FieldkitError(f"{self.key_file}: the key file must not be kept in the data directory "
                                    "(whoever takes the disk would hold both)")
            where = str(self.key_file)
            try:
                text = self.key_file.read_text()
            except OSError as exc:
                raise FieldkitError(f"cannot read the hub's key file {self.key_file}: {exc.strerror}") from None
        return parse_key(text, where)


def parse_key(text: str, where: str) -> bytes:
    try:
        key = bytes.fromhex(text.strip())
    except ValueError:
        key = b""
    if len(key) != 32:
        raise FieldkitError(f"{where}: a hub key is 64 hexadecimal digits")
    return key
