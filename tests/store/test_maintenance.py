"""`db check` notices a damaged page however often it looks, and only a damaged one."""

from __future__ import annotations

import os

from fieldkit.store.db import Change, Store
from fieldkit.store.maintenance import check

PAGE = 4096


def test_a_damaged_page_fails_the_check_every_time_it_is_read(tmp_path):
    path, key = tmp_path / "clinic.db", os.urandom(32)
    store = Store(path, key, device_id="01" + "d" * 30)
    store.append([Change("patient", f"p{n}", "create", {"fields": {"given_name": "Amal" * 50}}) for n in range(300)],
                 user="u")
    assert check(store)["ok"]
    store.close()  # the last connection out folds the WAL into the file
    with open(path, "r+b") as raw:  # one byte inside the fifth page's encrypted content
        raw.seek(4 * PAGE + 100)
        byte = raw.read(1)
        raw.seek(4 * PAGE + 100)
        raw.write(bytes([byte[0] ^ 0xFF]))
    store = Store(path, key, device_id="01" + "d" * 30)
    try:
        report = check(store)
    finally:
        store.close()
    assert not report["ok"] and "HMAC verification failed for page 5" in report["cipher_integrity"]
