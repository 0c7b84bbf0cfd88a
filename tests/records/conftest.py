"""Tests of the clinical domain: models, scores, search, duplicates, use cases and summaries."""

from __future__ import annotations

import pytest


@pytest.fixture
def store(make_store):
    """One laptop's keyed store, closed after the test."""
    return make_store()
