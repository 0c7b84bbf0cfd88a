"""Tests of LAN sync: enrolment, discovery, sessions over mutual TLS, the engine and the uplink."""

from __future__ import annotations

import pytest
from sync_support import network

NETWORK = "Soc Trang mobile clinics"


@pytest.fixture
def laptops(tmp_path):
    """laptops(n) -> n enrolled laptops of one network; every store is closed at the end."""
    made = []

    def make(count: int, name: str = NETWORK):
        group = network(tmp_path / f"network{len(made)}", count, name)
        made.extend(group)
        return group

    yield make
    for laptop in made:
        laptop.store.close()
