"""LAN peer discovery over mDNS/DNS-SD.

Anyone on the LAN can announce anything, so a sighting is only a hint about where a peer might be
listening: trust comes later, from the TLS handshake against the peer's certificate. What this
module guards against is junk, not impostors: services of other clinics' networks, ourselves,
malformed or oversized TXT data, and a flood of announcements, none of which may reach the list
shown to the user or the sync layer.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

import ifaddr  # zeroconf's own dependency; it is how zeroconf itself enumerates interfaces
from zeroconf import Error as ZeroconfError
from zeroconf import InterfaceChoice, IPVersion, ServiceStateChange, Zeroconf
from zeroconf.asyncio import AsyncServiceBrowser, AsyncServiceInfo, AsyncZeroconf

from fieldkit.errors import FieldkitError

SERVICE = "_fieldkit._tcp.local."
MAX_PEERS = 256  # a clinic LAN has a handful of laptops; the cap bounds what a flood can cost us
MAX_TXT_VALUE = 64
RESOLVE_TIMEOUT_MS = 3000

# Lowercase only: identity.device_id makes both kinds of id that way, and one spelling per id keeps
# "is this us?" and de-duplication a plain comparison.
_HEX_ID = re.compile(rb"[0-9a-f]{32}")
_PROTOCOL = re.compile(rb"[0-9]{1,9}")  # int() would also accept " 1", "1_0" and non-ASCII digits


@dataclass(frozen=True)
class Sighting:
    device_id: str
    network_id: str
    protocol: int
    host: str  # an IPv4 address string
    port: int


class Discovery:
    """Announce this device and keep the list of same-network peers currently on the LAN."""

    def __init__(self, *, network_id: str, device_id: str, port: int, protocol: int,
                 interfaces: list[str] | None = None,
                 on_change: Callable[[], None] | None = None, advertise: bool = True) -> None:
        """`advertise=False` only looks: for a one-off sync that serves nobody."""
        for value in (network_id, device_id):
            if not _HEX_ID.fullmatch(value.encode()):
                raise ValueError(f"not a 32-character lowercase hex id: {value!r}")
        self._network_id = network_id
        self._device_id = device_id
        self._port = port
        self._protocol = protocol
        self._interfaces = interfaces
        self._on_change = on_change
        self._advertise = advertise
        self._name = f"{device_id}.{SERVICE}"
        self._zc: AsyncZeroconf | None = None
        self._browser: AsyncServiceBrowser | None = None
        self._announcing: asyncio.Future[None] | None = None
        self._resolving: dict[str, asyncio.Task[None]] = {}
        self._peers: dict[str, Sighting] = {}  # by lowercased service name: "<device id>.<SERVICE>"

    async def __aenter__(self) -> Discovery:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    async def start(self) -> None:
        if self._zc is not None:
            return
        where = ("all interfaces" if self._interfaces is None
                 else ", ".join(self._interfaces) or "none given")
        if self._interfaces is not None:
            # zeroconf reports these as "No such device" and leaks a socket on the way out.
            strangers = set(self._interfaces) - set(_ipv4_addresses())
            if strangers:
                raise FieldkitError("LAN discovery cannot use " + ", ".join(sorted(strangers))
                                    + ": not an IPv4 address of this machine")
        try:
            self._zc = AsyncZeroconf(
                interfaces=InterfaceChoice.All if self._interfaces is None else self._interfaces,
                # Sightings carry IPv4 hosts, so IPv6 traffic would only cost and never help.
                ip_version=IPVersion.V4Only)
            await self._zc.zeroconf.async_wait_for_start()
            # zeroconf skips interfaces it cannot use instead of failing; with none left it would
            # run silently deaf and mute, which the user must hear about.
            if not self._zc.zeroconf.engine.senders:
                raise FieldkitError(f"LAN discovery found no usable network interface ({where})")
            # Browse before registering: registration spends about a second probing for name
            # conflicts, and peers can be heard meanwhile.
            self._browser = AsyncServiceBrowser(self._zc.zeroconf, SERVICE,
                                                handlers=[self._on_service_change])
            if self._advertise:
                # What registering returns is the task still repeating our announcement.
                self._announcing = asyncio.ensure_future(
                    await self._zc.async_register_service(self._own_info()))
        except (OSError, ValueError, RuntimeError, ZeroconfError) as exc:
            await self.stop()
            detail = " ".join(str(exc).split()) or type(exc).__name__
            raise FieldkitError(f"LAN discovery could not start on {where}: {detail}") from exc
        except BaseException:
            await self.stop()
            raise

    async def stop(self) -> None:
        zc, browser, self._zc, self._browser = self._zc, self._browser, None, None
        # An announcement still repeating after our goodbye would make peers list us again.
        if self._announcing is not None:
            self._announcing.cancel()
            self._announcing = None
        for task in self._resolving.values():
            task.cancel()
        self._resolving.clear()
        if browser is not None:
            await browser.async_cancel()
        if zc is not None:
            await zc.async_close()  # also sends the goodbyes that make peers drop us at once
        if self._peers:
            self._peers.clear()
            self._changed()

    def peers(self) -> list[Sighting]:
        return sorted(self._peers.values(), key=lambda s: s.device_id)

    def _own_info(self) -> AsyncServiceInfo:
        return AsyncServiceInfo(
            SERVICE, self._name, port=self._port, server=f"{self._device_id}.local.",
            properties={"net": self._network_id, "dev": self._device_id, "v": str(self._protocol)},
            parsed_addresses=lan_addresses() if self._interfaces is None else self._interfaces)

    def _on_service_change(self, zeroconf: Zeroconf, service_type: str, name: str,
                           state_change: ServiceStateChange) -> None:
        # Runs inside the event loop, so it must only schedule work, never wait for the network.
        name = name.lower()  # DNS names ignore case; one key per peer keeps the list free of twins
        if name == self._name:
            return
        if (task := self._resolving.pop(name, None)) is not None:
            task.cancel()
        if state_change is ServiceStateChange.Removed:
            if self._peers.pop(name, None) is not None:
                self._changed()
        elif len(self._resolving) < MAX_PEERS:
            task = asyncio.get_running_loop().create_task(self._resolve(name))
            self._resolving[name] = task
            task.add_done_callback(partial(self._resolved, name))

    def _resolved(self, name: str, task: asyncio.Task[None]) -> None:
        if self._resolving.get(name) is task:
            del self._resolving[name]

    async def _resolve(self, name: str) -> None:
        zc = self._zc
        if zc is None:
            return
        info = AsyncServiceInfo(SERVICE, name)
        if not await info.async_request(zc.zeroconf, RESOLVE_TIMEOUT_MS):
            return
        sighting = _sighting(info)
        if (sighting is None or sighting.network_id != self._network_id
                or sighting.device_id == self._device_id
                or name != f"{sighting.device_id}.{SERVICE}"):
            # The name must match the TXT so one device cannot be listed under several names;
            # a changed TXT can also move a listed peer out of our network.
            if self._peers.pop(name, None) is not None:
                self._changed()
            return
        if self._peers.get(name) == sighting:
            return
        if name not in self._peers and len(self._peers) >= MAX_PEERS:
            return
        self._peers[name] = sighting
        self._changed()

    def _changed(self) -> None:
        if self._on_change is not None:
            self._on_change()


def _sighting(info: AsyncServiceInfo) -> Sighting | None:
    """The sighting a resolved service describes, or None if anything in it is off."""
    props = info.properties
    if any(value is not None and len(value) > MAX_TXT_VALUE for value in props.values()):
        return None
    net, dev, version = props.get(b"net"), props.get(b"dev"), props.get(b"v")
    if not (net and dev and version and _HEX_ID.fullmatch(net) and _HEX_ID.fullmatch(dev)
            and _PROTOCOL.fullmatch(version)):
        return None
    hosts = info.parsed_addresses(IPVersion.V4Only)
    if not hosts or not info.port:
        return None
    return Sighting(device_id=dev.decode(), network_id=net.decode(), protocol=int(version),
                    host=hosts[0], port=info.port)


def lan_addresses() -> list[str]:
    """This machine's IPv4 addresses that another laptop could reach."""
    # Loopback is left out: a peer told "127.0.0.1" would connect to itself.
    return [address for address in _ipv4_addresses() if not address.startswith("127.")]


def _ipv4_addresses() -> list[str]:
    return sorted({str(ip.ip) for adapter in ifaddr.get_adapters() for ip in adapter.ips if ip.is_IPv4})
