"""Creating a clinic on a laptop, unlocking it as one of its users, and managing those users."""

from __future__ import annotations

from fieldkit.errors import FieldkitError
from fieldkit.i18n import _
from fieldkit.store.db import Change, Store
from fieldkit.store.fold import field_versions
from fieldkit.store.home import Home
from fieldkit.store.keystore import Keystore, User


def create_clinic(home: Home, *, supervisor: str, passphrase: str, device_id: str,
                  device_key: bytes, kdf: dict[str, int] | None = None) -> tuple[Store, User]:
    """A new encrypted database with this device's identity and its first supervisor."""
    if home.keystore.exists() or home.database.exists():
        raise FieldkitError(f"there is already a clinic in {home.path}")
    home.make()
    keystore = Keystore(home.keystore)
    key = keystore.create()
    try:
        user = keystore.add_user(supervisor, "supervisor", passphrase, key, kdf=kdf)
    except FieldkitError:
        home.keystore.unlink()  # nothing else was written yet: leave the directory as it was
        raise
    store = Store(home.database, key, device_id=device_id)
    store.read(lambda conn: conn.execute("INSERT INTO meta VALUES ('device_key', ?)", (device_key.hex(),)))
    publish_user(store, user, by=user)
    return store, user


def unlock(home: Home, name: str, passphrase: str) -> tuple[Store, User]:
    if not home.exists:
        raise FieldkitError(f"no clinic in {home.path} (run `fieldkit init` or `fieldkit demo`)")
    user, key = Keystore(home.keystore).unlock(name, passphrase)
    return Store(home.database, key), user


def add_user(home: Home, store: Store, *, by: str, by_passphrase: str, name: str, role: str,
             passphrase: str, language: str = "en", kdf: dict[str, int] | None = None) -> User:
    """A supervisor adds a user; re-entering the supervisor's passphrase unwraps the key to seal."""
    keystore = Keystore(home.keystore)
    supervisor, key = keystore.unlock(by, by_passphrase)
    if supervisor.role != "supervisor":
        raise FieldkitError("only a supervisor can add users")
    user = keystore.add_user(name, role, passphrase, key, language=language, kdf=kdf)
    publish_user(store, user, by=supervisor)
    return user


def publish_user(store: Store, user: User, *, by: User) -> None:
    """Journal the user so other laptops know who wrote an entry and in which role."""
    store.append([Change("user", user.id, "create", {"fields": {"name": user.name, "role": user.role,
                                                               "active": True}})], user=by.id)


def change_role(home: Home, store: Store, *, by: User, name: str, role: str) -> User:
    """A supervisor gives a user another role, on this laptop's key slots and in the journal."""
    if by.role != "supervisor":
        raise FieldkitError(_("only a supervisor can change roles"))
    keystore = Keystore(home.keystore)
    before = keystore.user(name)
    user = keystore.set_role(name, role)
    base = store.read(lambda conn: field_versions(conn, user.id)).get("role", "")
    try:
        store.append([Change("user", user.id, "update", {"fields": {"role": role}, "base": {"role": base}})],
                     user=by.id)
    except BaseException:
        keystore.set_role(name, before.role)  # unjournalled, the change never happened
        raise
    return user
