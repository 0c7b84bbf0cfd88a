"""A hub on loopback for tests: enrolled in a test network, on SQLite or a fresh PostgreSQL schema."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path

import psycopg
import pytest

from fieldkit.hub import identity
from fieldkit.hub.app import Hub
from fieldkit.hub.settings import HubSettings
from fieldkit.hub.storage import HubStorage
from fieldkit.sync import certs

POSTGRES = "postgresql://postgres@127.0.0.1:5432/test"
HUB_KEY = bytes(range(32))  # what FIELDKIT_HUB_KEY holds for the tests' hubs on SQLite


def open_storage(url: str) -> HubStorage:
    """The storage at `url` as `fieldkit hub serve` opens it (SQLite encrypted with the tests' key)."""
    return HubStorage.open(url, HUB_KEY)


def enrol_hub(data: Path, founder) -> None:
    """What `fieldkit hub init` and `fieldkit hub join` leave in the hub's data directory."""
    identity.init(data)
    network = founder.member.network
    identity.join(data, network, certs.enrol(founder.member.network_key, network, identity.public(data)))


def postgres_admin(statement: str) -> None:
    """Run one statement as the test cluster's owner (making a schema or a database); skip where
    no PostgreSQL runs on loopback."""
    try:
        with psycopg.connect(POSTGRES, autocommit=True) as conn:
            conn.execute(statement)
    except psycopg.OperationalError as exc:
        why = f"PostgreSQL is not running on 127.0.0.1:5432 ({str(exc).strip().splitlines()[0]}); .ci/run starts it"
        # set by .ci/run: there, a skip would hide a failure
        if os.environ.get("FIELDKIT_REQUIRE_POSTGRES") or os.environ.get("FIELDKIT_REQUIRE_TOOLS") == "1":
            pytest.fail(why)
        pytest.skip(why)


@contextmanager
def postgres_schema() -> Iterator[str]:
    """A database URL whose tables live in a schema of their own, dropped afterwards."""
    schema = f"hub_{uuid.uuid4().hex[:12]}"
    postgres_admin(f"CREATE SCHEMA {schema}")
    try:
        yield f"{POSTGRES}?options=-csearch_path%3D{schema}"
    finally:
        with psycopg.connect(POSTGRES, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA {schema} CASCADE")


@contextmanager
def postgres_database() -> Iterator[str]:
    """A database of its own (what pg_dump dumps whole), dropped afterwards; its URL."""
    name = f"fieldkit_hub_{uuid.uuid4().hex[:12]}"
    postgres_admin(f"CREATE DATABASE {name}")
    try:
        yield POSTGRES.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with psycopg.connect(POSTGRES, autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@contextmanager
def database(kind: str, data: Path) -> Iterator[str]:
    if kind == "postgresql":
        with postgres_schema() as url:
            yield url
    else:
        yield f"sqlite:///{data / 'hub.db'}"


@asynccontextmanager
async def running_hub(data: Path, url: str, storage: HubStorage | None = None, **settings) -> AsyncIterator[Hub]:
    """The hub on loopback, on `storage` (opened from `url` unless given), closed afterwards."""
    storage = storage or open_storage(url)
    hub_settings = HubSettings.load(data, environ={}, host="127.0.0.1", port=0, database=url, **settings)
    try:
        async with Hub(hub_settings, storage, identity.load(data)) as hub:
            hub.url = f"https://127.0.0.1:{hub.port}"
            yield hub
    finally:
        storage.close()


@contextmanager
def hub_process(data, url: str, *options: str, point: str | None = None, log: Path | None = None):
    """`fieldkit hub serve` in a process of its own on port 0, until the block ends; yields
    (process, https URL) once it printed its address. `options` are more of its flags, after `--port 0`
    so that theirs wins; `point` arms a crash point; `log` takes its stderr (a JSON line per request)."""
    armed = {"FIELDKIT_CRASH_AT": point} if point else {}
    with open(log, "w") if log else open(os.devnull, "w") as err:
        process = subprocess.Popen([sys.executable, "-m", "fieldkit", "hub", "serve", "--data", str(data), "--host",
                                    "127.0.0.1", "--port", "0", "--database", url, *options],
                                   env={**os.environ, "FIELDKIT_HUB_KEY": HUB_KEY.hex(), **armed},
                                   stdout=subprocess.PIPE, stderr=err, text=True)
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        port = re.search(r":(\d+) \(", line)
        assert port, f"hub did not start: {line!r}" + (f"\n{log.read_text()}" if log else "")
        yield process, f"https://127.0.0.1:{port.group(1)}"
    finally:
        process.kill()
        process.wait()
