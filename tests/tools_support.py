"""System tools some tests drive (poppler, zbar): found, or skipped with how to get them, or failed
where FIELDKIT_REQUIRE_TOOLS=1 says they must be there (CI installs them)."""

from __future__ import annotations

import os
import shutil

import pytest


def tool(name: str) -> str:
    found = shutil.which(name)
    if found:
        return found
    if os.environ.get("FIELDKIT_REQUIRE_TOOLS") == "1":
        pytest.fail(f"{name} is not installed and FIELDKIT_REQUIRE_TOOLS=1")
    pytest.skip(f"{name} is not installed (Debian: poppler-utils for pdftotext/pdftoppm, zbar-tools for zbarimg)")
