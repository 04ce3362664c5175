"""The records the network layer hands to ``mgr``: networks and endpoints."""

import enum
from dataclasses import dataclass, field
from typing import Any

# Generic endpoint parameters that carry a MAC address; the first is libnetwork's
# name, the second the Engine API's field name.
MAC_PARAM_KEYS = ("com.docker.network.endpoint.macaddress", "MacAddress")
# Generic endpoint parameters that name the interface inside the container by a
# prefix: "net" gives net0, net1, ... instead of eth0, eth1, ...
IFNAME_PREFIX_KEYS = ("com.pouch.network.endpoint.ifname_prefix", "IfnamePrefix")
DEFAULT_IFNAME_PREFIX = "eth"

# Driver options of a bridge network, as the Engine API names them.
BRIDGE_NAME_OPTION = "com.docker.network.bridge.name"
MTU_OPTION = "com.docker.network.driver.mtu"


class NetworkDriver(enum.StrEnum):
    BRIDGE = "bridge"
    HOST = "host"
    NULL = "null"


# The networks every daemon has; they cannot be created or removed by users.
PREDEFINED = {"bridge", "host", "none"}


@dataclass(frozen=True)
class Network:
    id: str
    name: str
    driver: NetworkDriver
    bridge: str | None = None
    subnet: str | None = None
    gateway: str | None = None
    internal: bool = False
    labels: dict[str, str] = field(default_factory=dict)
    options: dict[str, str] = field(default_factory=dict)
    created: str = ""
    ip_range: str | None = None

    @property
    def mtu(self) -> int | None:
        value = self.options.get(MTU_OPTION)
        return int(value) if value else None


@dataclass(frozen=True)
class Endpoint:
    """A container's place on a network.

    ``ifname`` is the name inside the container (eth0, eth1, ... in priority order)
    and ``host_veth`` the host side of its veth pair; both are ``None`` on the host
    and null networks, where no interface is made. ``seq`` orders endpoints by
    creation, which breaks priority ties.
    """

    id: str
    network_id: str
    network_name: str
    container_id: str
    ip: str | None
    prefix_len: int
    gateway: str | None
    mac: str | None
    priority: int
    disable_resolver: bool
    generic_params: dict[str, Any]
    aliases: list[str]
    ifname: str | None
    host_veth: str | None
    seq: int
    # Whether its interface exists: set once the interface is made at join.
    plugged: bool = False


@dataclass(frozen=True)
class PortRecord:
    """One published port: a host address and port forwarded to a container's."""

    container_id: str
    proto: str
    host_ip: str
    host_port: int
    container_ip: str
    container_port: int
    bridge: str


@dataclass(frozen=True)
class PortRequest:
    """A port to publish, as ``-p`` gives it; ``host_port`` 0 picks a free one."""

    proto: str
    container_port: int
    host_ip: str = ""
    host_port: int = 0
