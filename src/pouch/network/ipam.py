"""Address and MAC allocation, with no kernel and no database in sight.

The pool is rebuilt from the stored allocations each time an address is handed out,
inside the same transaction that records the new one, so two daemons (or a daemon
and its previous life) never hand out the same address. Addresses are handed out in
rotation after the last one given, as Docker does, so that a freed address is not
reused at once by the next container while peers may still cache its old MAC.
"""

import ipaddress
import re
from collections.abc import Iterable
from ipaddress import IPv4Address, IPv4Interface, IPv4Network

from pouch.network.errors import (
    AddressInUse,
    InvalidAddress,
    PoolExhausted,
    SubnetOverlap,
)

_MAC_RE = re.compile(r"^[0-9a-f]{2}(:[0-9a-f]{2}){5}$")


def parse_interface(cidr: str) -> IPv4Interface:
    """Parse ``192.168.5.1/24`` (an address with its subnet's length)."""
    try:
        iface = IPv4Interface(cidr)
    except ValueError as e:
        raise InvalidAddress(f"invalid address {cidr!r}: {e}") from e
    if "/" not in cidr:
        raise InvalidAddress(f"invalid address {cidr!r}: a prefix length is needed")
    return iface


def parse_subnet(cidr: str) -> IPv4Network:
    """Parse a subnet; host bits must be zero, as the Engine API requires."""
    try:
        return IPv4Network(cidr, strict=True)
    except ValueError as e:
        raise InvalidAddress(f"invalid subnet {cidr!r}: {e}") from e


def parse_address(address: str) -> IPv4Address:
    try:
        return IPv4Address(address)
    except ValueError as e:
        raise InvalidAddress(f"invalid IPv4 address {address!r}: {e}") from e


def default_gateway(subnet: IPv4Network) -> IPv4Address:
    """The first host address, which is what Docker picks when none is given."""
    # hosts() is a list for /31 and /32 and an iterator otherwise.
    return next(iter(subnet.hosts()))


def check_room(subnet: IPv4Network) -> None:
    """A network's subnet holds its gateway and at least one container."""
    if subnet.num_addresses - len(_reserved(subnet)) < 2:
        raise InvalidAddress(
            f"subnet {subnet} is too small for a network: it needs an address for "
            "the gateway and at least one for a container"
        )


def check_gateway(subnet: IPv4Network, gateway: IPv4Address) -> None:
    if gateway not in subnet or gateway in _reserved(subnet):
        raise InvalidAddress(
            f"gateway {gateway} is not a usable address of subnet {subnet}"
        )


def check_no_overlap(subnet: IPv4Network, others: Iterable[IPv4Network]) -> None:
    for other in others:
        if subnet.overlaps(other):
            raise SubnetOverlap(f"subnet {subnet} overlaps existing subnet {other}")


def check_range(subnet: IPv4Network, ip_range: IPv4Network) -> None:
    if not ip_range.subnet_of(subnet):
        raise InvalidAddress(f"ip range {ip_range} is not within subnet {subnet}")


def _reserved(subnet: IPv4Network) -> set[IPv4Address]:
    """Network and broadcast addresses; /31 and /32 have none (RFC 3021)."""
    if subnet.prefixlen >= 31:
        return set()
    return {subnet.network_address, subnet.broadcast_address}


class AddressPool:
    """The free addresses of one subnet: everything but the reserved ones, the
    gateway and what is in use."""

    def __init__(
        self,
        subnet: IPv4Network,
        gateway: IPv4Address | None,
        in_use: Iterable[IPv4Address] = (),
        last: IPv4Address | None = None,
        ip_range: IPv4Network | None = None,
    ) -> None:
        self.subnet = subnet
        self.last = last
        # Addresses handed out without a request come from here; a requested one
        # may lie anywhere in the subnet, as Docker allows.
        self.range = ip_range or subnet
        self._taken = set(in_use) | _reserved(subnet)
        if gateway is not None:
            self._taken.add(gateway)

    def request(self, address: IPv4Address | None = None) -> IPv4Address:
        """Take ``address``, or the next free one after the last handed out."""
        if address is None:
            address = self._next_free()
        elif address not in self.subnet:
            raise InvalidAddress(f"address {address} is not in subnet {self.subnet}")
        elif address in self._taken:
            raise AddressInUse(str(address), str(self.subnet))
        self._taken.add(address)
        self.last = address
        return address

    def release(self, address: IPv4Address) -> None:
        self._taken.discard(address)

    def _next_free(self) -> IPv4Address:
        first = int(self.range.network_address)
        size = self.range.num_addresses
        start = 0
        if self.last is not None and self.last in self.range:
            start = int(self.last) - first + 1

        # One pass over the subnet, starting after the last address handed out.
        for step in range(size):
            candidate = IPv4Address(first + (start + step) % size)
            if candidate not in self._taken:
                return candidate
        raise PoolExhausted(str(self.range))


def mac_for(address: IPv4Address) -> str:
    """A locally administered MAC derived from the address, as Docker derives it:
    02:42 followed by the four address bytes, so it is stable and unique per subnet."""
    return ":".join(f"{b:02x}" for b in (0x02, 0x42, *address.packed))


def parse_mac(mac: str) -> str:
    """Normalise a MAC to lower case with colons; refuse multicast ones, which no
    interface may carry."""
    normal = mac.strip().lower().replace("-", ":")
    if not _MAC_RE.match(normal):
        raise InvalidAddress(f"invalid MAC address {mac!r}: expected xx:xx:xx:xx:xx:xx")
    if int(normal[:2], 16) & 1:
        raise InvalidAddress(f"invalid MAC address {mac!r}: multicast bit is set")
    return normal


def is_loopback(address: str) -> bool:
    try:
        return ipaddress.ip_address(address.split("%")[0]).is_loopback
    except ValueError:
        return False
