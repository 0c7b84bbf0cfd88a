"""T13/T14: wrong passphrases change nothing but the count of refusals, which the next sign-in
audits; a passphrase change killed at any point leaves the old or the new passphrase opening the
clinic, never neither (production Argon2id)."""

from __future__ import annotations

import random
import string
import unicodedata

import pytest
from campaign_support import FIELDKIT, environment, record, run, verified
from sync_support import CHEAP_KDF, PASSPHRASE, network

from fieldkit.errors import WrongPassphrase
from fieldkit.store.keystore import Keystore
from fieldkit.store.session import add_user, unlock

# The same keys pressed with the keyboard set to Arabic (PC layout): a common slip on a shared laptop.
VIETNAMESE = "Nguyễn Thị Mai 2026"
ARABIC_KEYS = str.maketrans("qwertyuiopasdfghjklzxcvnm", "ضصثقفغعهخحشسيبلاتنمئءؤرىة")


def slots(keystore: Keystore) -> list[tuple]:
    with keystore._connect() as conn:
        return conn.execute("SELECT * FROM users ORDER BY id").fetchall()


def near_misses(passphrase: str) -> list[str]:
    """Twenty passphrases a hurried user types for `passphrase`: each must be refused."""
    words = passphrase.split()
    return [passphrase.upper(), passphrase.capitalize(), passphrase.title(), passphrase.swapcase(),
            passphrase + " ", " " + passphrase, passphrase + "\n", passphrase.replace(" ", "  "),
            passphrase.replace(" ", ""), passphrase.replace(" ", "-"), passphrase[:-1], passphrase + passphrase[-1],
            passphrase[1:], passphrase[1] + passphrase[0] + passphrase[2:], " ".join(reversed(words)),
            passphrase.translate(ARABIC_KEYS), passphrase.replace("o", "0"), passphrase.replace("e", "3"),
            passphrase[:-2] + passphrase[-1] + passphrase[-2], passphrase.replace("r", "t", 1)]


def test_a_thousand_wrong_passphrases_are_refused_audited_and_change_nothing(tmp_path, tmp_path_factory):
    [laptop] = network(tmp_path, 1)
    laptop.store.close()
    home, name = laptop.home, laptop.user.name
    keystore = Keystore(home.keystore)
    files = {path: path.read_bytes() for path in home.path.iterdir() if path.name != home.keystore.name}
    before = slots(keystore)
    rng = random.Random(13)
    guesses = [''.join(rng.choices(string.printable + "ءآأؤإئابةتثجحخدذرزسشصضطظعغفقكلمنهوىيپچژگ", k=rng.randint(8, 40)))
               for _ in range(1000)] + near_misses(PASSPHRASE)
    refused = 0
    for guess in guesses:
        with pytest.raises(WrongPassphrase, match=f"^wrong passphrase for {name}$"):  # never "corrupt"
            keystore.unlock(name, guess)
        refused += 1
    # Nothing but the refusals' count changed: the database, its WAL, the key slots, no new file.
    assert {path: path.read_bytes() for path in home.path.iterdir() if path.name != home.keystore.name} == files
    assert slots(keystore) == before
    store, user = unlock(home, name, PASSPHRASE)
    with store:
        audited = store.read(lambda conn: conn.execute(
            "SELECT count(*) FROM audit WHERE action = 'sign-in refused' AND user = ?", (user.id,)).fetchone()[0])
        verified(store)
        # Composed or decomposed, a Vietnamese passphrase is the same one (NFKC, keystore._derive);
        # without its marks it is another.
        add_user(home, store, by=name, by_passphrase=PASSPHRASE, name="mai", role="clinician",
                 passphrase=unicodedata.normalize("NFC", VIETNAMESE), kdf=CHEAP_KDF)
    assert audited == len(guesses) and keystore.refusals() == []
    assert keystore.unlock("mai", unicodedata.normalize("NFD", VIETNAMESE))[0].name == "mai"
    with pytest.raises(WrongPassphrase):
        keystore.unlock("mai", "Nguyen Thi Mai 2026")
    record(tmp_path_factory, "T13 wrong passphrases (1,000 random, 20 near misses)", lost=0,
           refused=refused, audited=audited)


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
    before = slots(keystore)
    for guess in ("wrong one", "first passphrase", "FIRST PASSPHRASE 0"):  # T13 through the CLI: refused
        assert fieldkit(home, "db", "passwd", passphrase=guess, new="never used 123").returncode == 1
    assert slots(keystore) == before
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
    record(tmp_path_factory, "T14 kill -9 in a passphrase change", kills=kills, lost=neither)
