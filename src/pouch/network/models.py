"""The records the network layer hands to ``mgr``: networks and endpoints."""

import enum
from dataclasses import dataclass, field
from typing import Any

# Generic endpoint parameters that carry a MAC address; the first is libnetwork's
# name, the second the Engine API's field name.
MAC_PARAM_KEYS = ("com.docker.network.endpoint.macaddress", "MacAddress")


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
