"""Laptops for sync tests: real clinics (SQLCipher, key slots, device keys) in one network."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from fieldkit.records.services import Clinic
from fieldkit.store.db import Store
from fieldkit.store.home import Home
from fieldkit.store.keystore import User
from fieldkit.store.session import create_clinic
from fieldkit.sync import certs, membership
from fieldkit.sync.identity import new_device_key, public_key

CHEAP_KDF = {"memory_kib": 1024, "iterations": 1, "lanes": 1}
PASSPHRASE = "correct horse battery"


@dataclass
class Laptop:
    name: str
    home: Home
    store: Store
    user: User
    member: membership.Membership | None

    @property
    def clinic(self) -> Clinic:
        return Clinic(self.store, self.user)

    @property
    def device(self) -> str:
        return self.store.device_id


def new_laptop(root: Path, name: str) -> Laptop:
    home = Home(root / name)
    key, device = new_device_key()
    store, user = create_clinic(home, supervisor=f"{name}-lead", passphrase=PASSPHRASE, device_id=device,
                                device_key=key, kdf=CHEAP_KDF)
    return Laptop(name, home, store, user, None)


def enrol(laptop: Laptop, founder: Laptop) -> Laptop:
    """What `fieldkit network join` ends with: the founder's network key signed this laptop's key."""
    network = founder.member.network
    certificate = certs.enrol(founder.member.network_key, network, public_key(membership.device_key(laptop.store)))
    laptop.member = membership.join(laptop.store, network, certificate)
    return laptop


def network(root: Path, count: int, name: str = "Soc Trang mobile clinics") -> list[Laptop]:
    founder = new_laptop(root, "laptop0")
    founder.member = membership.create(founder.store, name)
    return [founder] + [enrol(new_laptop(root, f"laptop{i}"), founder) for i in range(1, count)]
