"""Networks as objects: create, list, inspect, remove, prune, and a container's
connect and disconnect; and what a container's start asks of its networks (endpoint
options, published ports), decided from its create request.

The network layer's errors are translated here, in ``translate``, for every call
``mgr`` makes into it.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pouch.errors import Conflict, InvalidParameter, NotFound, PouchError
from pouch.mgr.records import Container, EndpointInfo
from pouch.network import errors as net
from pouch.network.models import (
    BRIDGE_NAME_OPTION,
    Network,
    NetworkDriver,
    PortRecord,
    PortRequest,
)
from pouch.oci.hostopts import CONTAINER_MODE
from pouch.types import (
    CreateRequest,
    EndpointSettings,
    IpamPool,
    IpamSettings,
    NetworkConnectRequest,
    NetworkCreateRequest,
    NetworkingSettings,
    PortBinding,
    parse_model,
)

if TYPE_CHECKING:
    from pouch.mgr.container import ContainerManager
    from pouch.network.controller import NetworkController

log = logging.getLogger("pouch.network")

# Modes in which a container has no endpoint of its own.
SHARED_MODES = ("host", "none")


@contextlib.contextmanager
def translate() -> Iterator[None]:
    """The network layer's errors as the daemon's, with the cause chained."""
    try:
        yield
    except net.NetworkNotFound as exc:
        raise NotFound(str(exc)) from exc
    except (net.NetworkExists, net.NetworkInUse, net.EndpointExists) as exc:
        raise Conflict(str(exc)) from exc
    except (net.AddressInUse, net.PortInUse) as exc:
        raise Conflict(str(exc)) from exc
    except (net.InvalidAddress, net.SubnetOverlap) as exc:
        raise InvalidParameter(str(exc)) from exc
    except net.NetworkError as exc:
        raise PouchError(str(exc)) from exc


# What a container's start asks of its networks.


@dataclass(frozen=True)
class EndpointOptions:
    ip: str | None
    aliases: list[str]
    mac: str | None


def endpoint_options(container: Container, network: str) -> EndpointOptions:
    """The address, aliases and MAC asked for on ``network``: from the request's
    ``EndpointsConfig``; the MAC from ``Config.MacAddress`` on the first network.
    The container's name and short id are aliases too, so peers resolve them."""
    settings = _endpoint_settings(container, network)
    ip = settings.IPAMConfig.IPv4Address if settings.IPAMConfig else ""
    mac = settings.MacAddress or None
    if mac is None and container.networks and container.networks[0].network == network:
        mac = container.request.MacAddress or None
    aliases = [container.name, container.id[:12], *(settings.Aliases or [])]
    return EndpointOptions(ip or None, aliases, mac)


def _endpoint_settings(container: Container, network: str) -> EndpointSettings:
    config = container.request.NetworkingConfig
    found = (config and config.EndpointsConfig or {}).get(network)
    if found is None and network == "bridge" and config and config.EndpointsConfig:
        found = config.EndpointsConfig.get("default")
    return found or EndpointSettings()


def port_requests(
    container: Container, image_config: dict[str, Any]
) -> list[PortRequest]:
    """``PortBindings``, then with ``PublishAllPorts`` every exposed port (the
    request's and the image's) not bound yet, on a free host port."""
    host = container.request.HostConfig
    requests: list[PortRequest] = []
    for key, bindings in (host.PortBindings or {}).items():
        port, proto = parse_port_key(key)
        for binding in bindings or [PortBinding()]:
            host_port = _host_port(binding.HostPort, key)
            requests.append(PortRequest(proto, port, binding.HostIp, host_port))
    if host.PublishAllPorts:
        bound = {(r.container_port, r.proto) for r in requests}
        for key in exposed_ports(container, image_config):
            port, proto = parse_port_key(key)
            if (port, proto) not in bound:
                requests.append(PortRequest(proto, port))
    return requests


def check_ports(request: CreateRequest) -> None:
    """Refuse malformed port keys and host ports at create, naming them."""
    for key, bindings in (request.HostConfig.PortBindings or {}).items():
        parse_port_key(key)
        for binding in bindings or []:
            _host_port(binding.HostPort, key)
    for key in request.ExposedPorts or {}:
        parse_port_key(key)


def check_endpoints(request: CreateRequest) -> None:
    """Refuse, at create, what the networks named in ``EndpointsConfig`` cannot
    give."""
    config = request.NetworkingConfig
    for network, settings in (config and config.EndpointsConfig or {}).items():
        check_endpoint_settings(network, settings)


def check_endpoint_settings(network: str, settings: EndpointSettings) -> None:
    """An address of one's own is only given on a user-defined network, as dockerd
    has it: the default bridge hands out addresses in its own order."""
    ipam = settings.IPAMConfig
    if ipam and (ipam.IPv4Address or ipam.IPv6Address) and not _user_defined(network):
        raise InvalidParameter(
            "user specified IP address is supported on user defined networks only"
        )


def _user_defined(network: str) -> bool:
    predefined = ("bridge", "default", *SHARED_MODES)
    return network not in predefined and not network.startswith(CONTAINER_MODE)


def exposed_ports(container: Container, image_config: dict[str, Any]) -> list[str]:
    keys = list(image_config.get("ExposedPorts") or {})
    keys += list(container.request.ExposedPorts or {})
    keys += list(container.request.HostConfig.PortBindings or {})
    return list(dict.fromkeys(keys))


def parse_port_key(key: str) -> tuple[int, str]:
    """``80/tcp`` (or ``80``) -> (80, "tcp")."""
    port, _, proto = key.partition("/")
    proto = proto or "tcp"
    if not _is_number(port) or not 0 < int(port) < 65536 or proto not in ("tcp", "udp"):
        raise InvalidParameter(
            f"invalid port {key!r}: expected <port>[/tcp|/udp], port 1 to 65535"
        )
    return int(port), proto


def _host_port(value: str, key: str) -> int:
    if value == "":
        return 0
    if not _is_number(value) or not 0 <= int(value) < 65536:
        raise InvalidParameter(
            f"invalid host port {value!r} for {key}: expected 0 to 65535"
        )
    return int(value)


def _is_number(text: str) -> bool:
    # str.isdigit alone takes "²" and other digits int() refuses.
    return text.isascii() and text.isdigit()


def published_doc(records: list[PortRecord]) -> list[dict[str, Any]]:
    """Published ports as the container record keeps them."""
    return [
        {"Proto": r.proto, "HostIp": r.host_ip or "0.0.0.0",
         "HostPort": r.host_port, "Port": r.container_port}
        for r in records
    ]  # fmt: skip


def check_port_conflicts(
    container: Container, requests: list[PortRequest], others: list[Container]
) -> None:
    """409 for a host port another running container of ours has published, with
    its name; ports taken by anything else are found when they are bound."""
    for other in others:
        if other.id == container.id or not other.running:
            continue
        for held in other.ports:
            for r in requests:
                same_ip = not r.host_ip or held["HostIp"] in ("0.0.0.0", r.host_ip)
                if (r.proto, r.host_port) == (
                    held["Proto"],
                    held["HostPort"],
                ) and same_ip:
                    raise Conflict(
                        f"container {container.name}: host port "
                        f"{r.host_port}/{r.proto} is already published by "
                        f"container {other.name}"
                    )


# Networks as objects.


def network_doc(
    network: Network, endpoints: list[Any], names: dict[str, str]
) -> dict[str, Any]:
    """A network in the Engine API's shape."""
    config = []
    if network.subnet:
        entry = {"Subnet": network.subnet, "Gateway": network.gateway or ""}
        if network.ip_range:
            entry["IPRange"] = network.ip_range
        config.append(entry)
    options = dict(network.options)
    if network.bridge and network.driver is NetworkDriver.BRIDGE:
        options.setdefault(BRIDGE_NAME_OPTION, network.bridge)
    return {
        "Name": network.name,
        "Id": network.id,
        "Created": network.created,
        "Scope": "local",
        "Driver": network.driver.value,
        "EnableIPv6": False,
        "IPAM": {"Driver": "default", "Options": None, "Config": config},
        "Internal": network.internal,
        "Attachable": False,
        "Ingress": False,
        "ConfigFrom": {"Network": ""},
        "ConfigOnly": False,
        "Containers": {
            e.container_id: {
                "Name": names.get(e.container_id, ""),
                "EndpointID": e.id,
                "MacAddress": e.mac or "",
                "IPv4Address": f"{e.ip}/{e.prefix_len}" if e.ip else "",
                "IPv6Address": "",
            }
            for e in endpoints
        },
        "Options": options,
        "Labels": dict(network.labels),
    }


class NetworkManager:
    """The rules of networks as objects, and of connecting containers to them."""

    def __init__(
        self, controller: NetworkController, containers: ContainerManager
    ) -> None:
        self.controller = controller
        self.containers = containers

    def find(self, filters: dict[str, list[str]] | None = None) -> list[dict[str, Any]]:
        docs = [self._doc(n) for n in self.controller.list_networks()]
        return [d for d in docs if _matches(d, filters or {})]

    def inspect(self, name_or_id: str) -> dict[str, Any]:
        with translate():
            return self._doc(self.controller.get_network(name_or_id))

    def _doc(self, network: Network) -> dict[str, Any]:
        names = {c.id: c.name for c in self.containers.all()}
        endpoints = self.controller.network_endpoints(network.id)
        return network_doc(network, endpoints, names)

    async def create(self, body: dict[str, Any]) -> Network:
        request = _CreateNetwork.parse(body)
        with translate():
            network = await self.controller.create_network(
                request.name,
                subnet=request.subnet,
                gateway=request.gateway,
                bridge_name=request.options.get(BRIDGE_NAME_OPTION),
                internal=request.internal,
                labels=request.labels,
                options=request.options,
                ip_range=request.ip_range,
            )
        self._emit(network, "create")
        return network

    async def remove(self, name_or_id: str) -> None:
        with translate():
            network = self.controller.get_network(name_or_id)
            await self.controller.remove_network(name_or_id)
        self._emit(network, "destroy")

    def _emit(self, network: Network, action: str) -> None:
        self.containers.emit_network(
            network.id, network.name, str(network.driver), action
        )

    async def prune(self) -> list[str]:
        """Remove the user-defined networks that no container refers to."""
        used = {i.network for c in self.containers.all() for i in c.networks}
        used |= {i.network_id for c in self.containers.all() for i in c.networks}
        removed = []
        for network in self.controller.list_networks():
            if network.name in ("bridge", "host", "none"):
                continue
            if {network.name, network.id} & used:
                continue
            if self.controller.network_endpoints(network.id):
                continue
            with translate():
                await self.controller.remove_network(network.id)
            self._emit(network, "destroy")
            removed.append(network.name)
        return removed

    async def connect(self, network: str, body: dict[str, Any]) -> None:
        request = _connect_request(body, "connect")
        settings = request.EndpointConfig or EndpointSettings()
        with translate():
            target = self.controller.get_network(network)
        check_endpoint_settings(target.name, settings)
        await self.containers.connect(request.Container, target.name, settings)

    async def disconnect(self, network: str, body: dict[str, Any]) -> None:
        request = _connect_request(body, "disconnect")
        with translate():
            target = self.controller.get_network(network)
        await self.containers.disconnect(request.Container, target.name)


def _connect_request(body: dict[str, Any], verb: str) -> NetworkConnectRequest:
    request = parse_model(NetworkConnectRequest, body, f"network {verb} request")
    if not request.Container:
        raise InvalidParameter(f"Container is required: name the container to {verb}")
    return request


def attach_settings(
    container: Container, network: str, settings: EndpointSettings
) -> None:
    """Record ``network`` with its settings on a container, for its next start."""
    config = container.request.NetworkingConfig or NetworkingSettings()
    endpoints = dict(config.EndpointsConfig or {})
    endpoints[network] = settings
    config.EndpointsConfig = endpoints
    container.request.NetworkingConfig = config
    container.networks.append(EndpointInfo(network=network))


def detach_settings(container: Container, network: str) -> None:
    config = container.request.NetworkingConfig
    if config and config.EndpointsConfig:
        config.EndpointsConfig.pop(network, None)
    container.networks = [i for i in container.networks if i.network != network]


def check_connectable(container: Container, network: str) -> None:
    mode = container.network_mode
    if mode in SHARED_MODES or mode.startswith(CONTAINER_MODE):
        raise Conflict(
            f"container {container.name} uses network mode {mode!r}: it cannot be "
            "connected to other networks"
        )
    if network in SHARED_MODES:
        raise Conflict(
            f"container {container.name}: network {network} cannot be connected to; "
            "it is a network mode, chosen at create"
        )
    if any(i.network == network for i in container.networks):
        raise Conflict(
            f"container {container.name} is already connected to network {network}"
        )


def _matches(doc: dict[str, Any], filters: dict[str, list[str]]) -> bool:
    for key, values in filters.items():
        if key == "name" and not any(v in doc["Name"] for v in values):
            return False
        if key == "id" and not any(doc["Id"].startswith(v) for v in values):
            return False
        if key == "driver" and doc["Driver"] not in values:
            return False
    return True


@dataclass
class _CreateNetwork:
    """``POST /networks/create``, checked."""

    name: str
    subnet: str | None
    gateway: str | None
    ip_range: str | None
    internal: bool
    labels: dict[str, str]
    options: dict[str, str]

    @classmethod
    def parse(cls, body: dict[str, Any]) -> _CreateNetwork:
        request = parse_model(NetworkCreateRequest, body, "network create request")
        name = _check_name(request.Name)
        driver = request.Driver or "bridge"
        if driver != "bridge":
            raise InvalidParameter(
                f"invalid Driver {driver!r}: only the bridge driver can be created"
            )
        if request.EnableIPv6:
            raise InvalidParameter("EnableIPv6 is not supported: networks are IPv4")
        pool = _ipam_pool(request.IPAM)
        return cls(
            name=name,
            subnet=pool.Subnet or None,
            gateway=pool.Gateway or None,
            ip_range=pool.IPRange or None,
            internal=request.Internal,
            labels=request.Labels or {},
            options=request.Options or {},
        )


def _check_name(name: str) -> str:
    """dockerd's rule, no more: a name that is not blank and not predefined.
    Spaces and slashes are allowed; the routes take a name with slashes."""
    if not name.strip():
        raise InvalidParameter(
            f"invalid network name {name!r}: Name is required and must not be blank"
        )
    if name in ("bridge", "host", "none", "default"):
        raise Conflict(f"network {name} is predefined and cannot be created")
    return name


def _ipam_pool(ipam: IpamSettings | None) -> IpamPool:
    """The one subnet a network may have, with its gateway and range."""
    if ipam is None:
        return IpamPool()
    if ipam.Driver not in ("", "default"):
        raise InvalidParameter(
            f"invalid IPAM.Driver {ipam.Driver!r}: only the default driver is supported"
        )
    configs = ipam.Config or []
    if len(configs) > 1:
        raise InvalidParameter("IPAM.Config: a network takes at most one subnet")
    pool = configs[0] if configs else IpamPool()
    if not pool.Subnet and (pool.Gateway or pool.IPRange):
        raise InvalidParameter("IPAM.Config: a gateway or ip range needs a subnet")
    return pool
