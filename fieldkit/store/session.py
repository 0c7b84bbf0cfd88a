"""Creating a clinic on a laptop, unlocking it as one of its users, and managing those users.

A user lives in two places: her key slot in the keystore (which unlocks this laptop) and her
grant in the journal (which tells every laptop who wrote an entry, in which role). The two change
together: the keystore's transaction stays open while the journal entry is written, and commits
only after it, so a slot never exists without its grant. (A crash between the two commits leaves
a grant without a slot on this laptop: nobody can sign in with it, and adding her again works.)
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable

from fieldkit.errors import FieldkitError
from fieldkit.i18n import _
from fieldkit.permissions import require
from fieldkit.store.db import Change, Store, Transaction
from fieldkit.store.fold import field_versions
from fieldkit.store.heads import version_vector
from fieldkit.store.hlc import HybridClock
from fieldkit.store.holdback import user_revoked
from fieldkit.store.home import Home
from fieldkit.store.keystore import Keystore, User


def create_clinic(home: Home, *, supervisor: str, passphrase: str, device_id: str,
                  device_key: bytes, kdf: dict[str, int] | None = None,
                  wall: Callable[[], int] | None = None) -> tuple[Store, User]:
    """A new encrypted database with this device's identity and its first supervisor; `wall`
    (milliseconds) dates her, for a demo clinic that has a past."""
    if home.keystore.exists() or home.database.exists():
        raise FieldkitError(f"there is already a clinic in {home.path}")
    home.make()
    keystore = Keystore(home.keystore)
    key = keystore.create()
    store = None
    try:
        store = Store(home.database, key, device_id=device_id)
        if wall is not None:
            store.clock = HybridClock(wall=wall)

        def first_entries(user: User) -> None:  # she is journalled by herself: nobody else exists yet
            def job(tx: Transaction) -> None:
                tx.execute("INSERT INTO meta VALUES ('device_key', ?)", (device_key.hex(),))
                tx.append([user_change(user)], user=user.id)
            store.write(job)
        user = keystore.add_user(supervisor, "supervisor", passphrase, key, kdf=kdf, journal=first_entries)
    except BaseException:
        if store is not None:
            store.close()
        for leftover in (home.keystore, *home.path.glob(home.database.name + "*")):
            with contextlib.suppress(FileNotFoundError):
                leftover.unlink()  # nothing was kept: leave the directory as it was
        raise
    return store, user


def unlock(home: Home, name: str, passphrase: str) -> tuple[Store, User]:
    store, user, _key = unlock_keyed(home, name, passphrase)
    return store, user


def unlock_keyed(home: Home, name: str, passphrase: str) -> tuple[Store, User, bytes]:
    """As `unlock`, with the database key too (a backup copies the database under it)."""
    if not home.exists:
        raise FieldkitError(f"no clinic in {home.path} (run `fieldkit init` or `fieldkit demo`)")
    exposed = home.exposure()
    if exposed:
        raise FieldkitError(exposed)
    keystore = Keystore(home.keystore)
    user, key = keystore.unlock(name, passphrase)
    store = refuse_revoked(Store(home.database, key), user)
    audit_refusals(keystore, store)
    return store, user, key


def audit_refusals(keystore: Keystore, store: Store) -> None:
    """Copy the wrong passphrases typed since the last sign-in into the audit chain (T13), each
    under the user whose passphrase was tried. Audited first, forgotten after, so a crash between
    repeats a row rather than losing one."""
    refused = keystore.refusals()
    if not refused:
        return

    def job(tx: Transaction) -> None:
        for _row, user_id, at in refused:
            tx.audit(user_id, "sign-in refused", detail=at)
    store.write(job)
    keystore.forget_refusals(refused[-1][0])


def refuse_revoked(store: Store, user: User) -> Store:
    """The store, unless a supervisor revoked this user (then closed, and refused in one line)."""
    if store.user_revoked(user.id):
        store.close()
        raise FieldkitError(_("{name} was revoked by a supervisor and can no longer sign in").format(name=user.name))
    return store


def user_change(user: User) -> Change:
    """The journal entry that tells other laptops who a user is and in which role."""
    return Change("user", user.id, "create", {"fields": {"name": user.name, "role": user.role, "active": True}})


def add_user(home: Home, store: Store, *, by: str, by_passphrase: str, name: str, role: str,
             passphrase: str, language: str = "en", kdf: dict[str, int] | None = None) -> User:
    """A supervisor adds a user; re-entering the supervisor's passphrase unwraps the key to seal."""
    keystore = Keystore(home.keystore)
    supervisor, key = keystore.unlock(by, by_passphrase)
    require_manager(supervisor)
    return keystore.add_user(name, role, passphrase, key, language=language, kdf=kdf,
                             journal=lambda user: store.append([user_change(user)], user=supervisor.id))


def require_manager(user: User) -> None:
    require(user.role, "manage users")


def change_role(home: Home, store: Store, *, by: User, name: str, role: str) -> User:
    """A supervisor gives a user another role, on this laptop's key slots and in the journal."""
    require_manager(by)

    def journal(user: User) -> None:
        def job(tx: Transaction) -> None:
            base = field_versions(tx, user.id).get("role", "")
            tx.append([Change("user", user.id, "update", {"fields": {"role": role}, "base": {"role": base}})],
                      user=by.id)
        store.write(job)
    return Keystore(home.keystore).set_role(name, role, journal=journal)


def revoke_user(home: Home, store: Store, *, by: User, user_id: str, reason: str = "") -> None:
    """A supervisor revokes a user (gone, or her passphrase known to others), on every laptop.

    The revocation's cut-off is this laptop's version vector: her entries it holds stay folded;
    any she made elsewhere that it has not seen, and any later, are held for a supervisor
    (store/holdback.py). Her key slot here goes in the same step."""
    require(by.role, "revoke users")
    if user_id == by.id:
        raise FieldkitError(_("you cannot revoke yourself"))

    def journal() -> None:
        def job(tx: Transaction) -> None:
            if user_revoked(tx, user_id):
                raise FieldkitError(_("that user is already revoked"))
            tx.append([Change("user", user_id, "revoke", {"reason": reason, "cutoff": version_vector(tx)})],
                      user=by.id)
        store.write(job)
    Keystore(home.keystore).remove_user(user_id, journal=journal)
