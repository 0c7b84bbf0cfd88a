"""The layers point one way (DESIGN.md): no textual outside fieldkit.tui, no network in the store."""

from __future__ import annotations

import pkgutil
import subprocess
import sys

import fieldkit

HEADLESS = ["fieldkit.text", "fieldkit.i18n", "fieldkit.namekeys", "fieldkit.records", "fieldkit.store", "fieldkit.sync",
            "fieldkit.export", "fieldkit.cli"]


def loaded_after_import(package: str) -> set[str]:
    modules = [m.name for m in pkgutil.walk_packages(fieldkit.__path__, "fieldkit.")
               if m.name.startswith(package) and ".tui" not in m.name]
    code = f"import sys, importlib\nfor m in {modules!r}: importlib.import_module(m)\nprint(' '.join(sys.modules))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return set(result.stdout.split())


def test_headless_packages_never_load_textual():
    for package in HEADLESS:
        assert "textual" not in loaded_after_import(package), f"{package} loads textual"


def test_store_and_domain_do_not_reach_up_or_out():
    store = loaded_after_import("fieldkit.store")
    assert not {m for m in store if m.startswith(("fieldkit.records", "fieldkit.sync", "fieldkit.tui"))}
    records = loaded_after_import("fieldkit.records")
    assert not {m for m in records if m.startswith(("fieldkit.sync", "fieldkit.tui", "aiohttp", "zeroconf"))}
