"""Shared fixtures: real SQLCipher files in a temporary directory, with a cheap KDF for speed.

The production Argon2id cost (about half a second a guess) is measured in bench/ and exercised by
the CLI tests; unit tests use a small cost so hundreds of unlocks stay fast.
"""

from __future__ import annotations

import itertools
import json
import os

import pytest
from hypothesis import settings

from fieldkit.store import keystore
from fieldkit.store.db import Store

# Timing is what bench/ measures; under a loaded CI machine a per-example deadline only makes a
# correct property fail now and then.
settings.register_profile("fieldkit", deadline=None)
settings.load_profile("fieldkit")

CHEAP_KDF = {"memory_kib": 1024, "iterations": 1, "lanes": 1}
_ids = itertools.count(1)


@pytest.fixture(autouse=True)
def cheap_kdf(monkeypatch):
    monkeypatch.setattr(keystore, "KDF", CHEAP_KDF)


def device_id(n: int) -> str:
    return f"{n:02d}" + "d" * 30


@pytest.fixture
def make_store(tmp_path):
    """Open keyed SQLCipher stores, one per simulated laptop; all closed at the end of the test."""
    opened: list[Store] = []

    def make(device: int | None = None) -> Store:
        n = next(_ids)
        store = Store(tmp_path / f"laptop{n}.db", os.urandom(32), device_id=device_id(device or n))
        opened.append(store)
        return store

    yield make
    for store in opened:
        store.close()


def pytest_terminal_summary(terminalreporter, config):
    """The security and fault campaign's figures in one table (tests/campaign, campaign_support)."""
    from campaign_support import REPORT_DIR

    factory = getattr(config, "_tmp_path_factory", None)
    folder = factory.getbasetemp() / REPORT_DIR if factory else None
    if folder is None or not folder.is_dir():
        return
    totals: dict[str, dict] = {}
    for path in sorted(folder.glob("*.jsonl")):
        for row in map(json.loads, path.read_text().splitlines()):
            total = totals.setdefault(row.pop("threat"), {"runs": 0, "kills": 0, "lost": 0, "resent": 0, "other": {}})
            total["runs"] += row.pop("runs", 1)  # a test that ran many histories says how many
            for name, value in row.items():
                if name in total:
                    total[name] += value
                else:
                    total["other"][name] = value
    width = max(map(len, totals))
    terminalreporter.section("security and fault campaign (security.md 3)")
    terminalreporter.line(f"{'threat':<{width}} {'runs':>4} {'kills':>6} {'lost or leaked':>15} {'re-sent':>8}")
    for threat, total in sorted(totals.items()):
        other = "  ".join(f"{name} {value}" for name, value in total["other"].items())
        terminalreporter.line(f"{threat:<{width}} {total['runs']:>4} {total['kills']:>6} {total['lost']:>15} "
                              f"{total['resent']:>8}  {other}".rstrip())
    terminalreporter.line(f"{'all':<{width}} {sum(t['runs'] for t in totals.values()):>4} "
                          f"{sum(t['kills'] for t in totals.values()):>6} {sum(t['lost'] for t in totals.values()):>15}")
