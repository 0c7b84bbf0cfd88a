"""T13/T14: wrong passphrases change nothing, and a passphrase change killed at any point leaves
the old or the new passphrase opening the clinic, never neither (production Argon2id)."""

from __future__ import annotations

import pytest
from campaign_support import FIELDKIT, environment, record, run

from fieldkit.errors import WrongPassphrase
from fieldkit.store.keystore import Keystore


def fieldkit(home, *args: str, passphrase: str, new: str | None = None, point: str | None = None):
    changing = {"FIELDKIT_NEW_PASSPHRASE": new} if new else {}
    return run([*FIELDKIT, *args], environment(home, "amina", passphrase, point, **changing))


def opens(keystore: Keystore, passphrase: str) -> bool:
    try:
        keystore.unlock("amina", passphrase)
    except WrongPassphrase:
        return False
    return True


@pytest.mark.parametrize("point", ["keystore.passwd.before_commit", "keystore.passwd.after_commit"])
def test_a_passphrase_change_killed_anywhere_leaves_one_passphrase_that_opens(tmp_path, tmp_path_factory, point):
    home = tmp_path / "clinic"
    current = "first passphrase 0"
    assert fieldkit(home, "init", "--supervisor", "amina", passphrase=current).returncode == 0
    keystore = Keystore(home / "keystore.db")
    before = (home / "keystore.db").read_bytes()
    for guess in ("wrong one", "first passphrase", "FIRST PASSPHRASE 0"):  # T13: refused, nothing changes
        assert fieldkit(home, "db", "passwd", passphrase=guess, new="never used 123").returncode == 1
    assert (home / "keystore.db").read_bytes() == before
    kills, neither = 3, 0
    for number in range(1, kills + 1):
        new = f"next passphrase {number}"
        killed = fieldkit(home, "db", "passwd", passphrase=current, new=new, point=point)
        assert killed.returncode == -9, killed.stderr
        old_opens, new_opens = opens(keystore, current), opens(keystore, new)
        assert old_opens != new_opens, (old_opens, new_opens)  # exactly one of them
        assert new_opens == point.endswith("after_commit")
        neither += not (old_opens or new_opens)
        current = new if new_opens else current
    assert fieldkit(home, "db", "check", passphrase=current).returncode == 0
    record(tmp_path_factory, "T13/T14 wrong passphrases, kill -9 in a passphrase change", kills=kills, lost=neither)
