"""The network controller: the one object ``mgr`` talks to about networks.

It keeps networks, endpoints and address allocations in the daemon's database
(``state``), makes bridges and NAT rules (``links``, ``nat``), and wires a container's
namespace when the ``libnetwork-setkey`` prestart hook reports its pid (``join``).
Endpoints are recorded when a container is created, and get kernel objects only at
``join``, so a created container holds its address but no interface.
"""

import asyncio
import logging
import secrets
from collections.abc import Iterable
from dataclasses import replace
from ipaddress import IPv4Address, IPv4Interface
from pathlib import Path
from typing import Any

from pouch.network import files, ipam, links, nat
from pouch.network.errors import NetworkError, NetworkInUse
from pouch.network.models import (
    MAC_PARAM_KEYS,
    PREDEFINED,
    Endpoint,
    Network,
    NetworkDriver,
)
from pouch.network.state import EndpointRequest, NetworkState

log = logging.getLogger("pouch.network")

DEFAULT_NETWORK = "bridge"


class NetworkController:
    def __init__(
        self,
        db_path: Path,
        *,
        bridge_name: str = "p0",
        bip: str = "192.168.5.1/24",
        home_dir: Path,
        controller_id: str,
    ) -> None:
        self.bridge_name = bridge_name
        self.bip = ipam.parse_interface(bip)
        self.home_dir = home_dir
        self.controller_id = controller_id
        self._state = NetworkState(db_path)
        # One lock for kernel and rule changes: joins, releases and network
        # creation interleave badly (a bridge removed under a join).
        self._lock = asyncio.Lock()

    async def start(self) -> None:
        """Make the predefined networks, then bring every bridge network's kernel
        objects back (they are gone after a host reboot, kept after a restart)."""
        await nat.enable_ip_forward()
        self._ensure_record("none", NetworkDriver.NULL)
        self._ensure_record("host", NetworkDriver.HOST)
        self._ensure_default_bridge()

        for network in self.list_networks():
            if network.driver is NetworkDriver.BRIDGE:
                await self._plumb_network(network)
                kept = len(self._state.allocations(network.id))
                log.info("network %s ready, %d addresses in use", network.name, kept)

    async def close(self) -> None:
        """Close the database. Bridges, rules and veths stay: containers outlive the
        daemon and keep their network."""
        self._state.close()

    # Networks.

    def get_network(self, name_or_id: str) -> Network:
        return self._state.find_network(name_or_id)

    def list_networks(self) -> list[Network]:
        return self._state.networks()

    async def create_network(
        self,
        name: str,
        subnet: str,
        gateway: str | None,
        bridge_name: str,
        internal: bool = False,
        labels: dict[str, str] | None = None,
        options: dict[str, str] | None = None,
    ) -> Network:
        """Create a bridge network: its record, bridge and rules."""
        network = self._new_bridge_network(
            name, subnet, gateway, bridge_name, internal, labels or {}, options or {}
        )
        async with self._lock:
            # Refused up front, so that undoing a failed creation below never
            # deletes an interface someone else made.
            if await links.link_exists(bridge_name):
                raise NetworkInUse(f"interface {bridge_name} already exists")
            self._state.add_network(network)
            try:
                await self._plumb_network(network)
            except BaseException:
                await self._unplumb_network(network)
                self._state.remove_network(network.id)
                raise
        log.info("network %s (%s) created on %s", name, network.id[:12], bridge_name)
        return network

    async def remove_network(self, name_or_id: str) -> None:
        network = self.get_network(name_or_id)
        if network.name in PREDEFINED:
            raise NetworkInUse(f"network {network.name} is predefined, cannot remove")
        users = self._state.network_endpoints(network.id)
        if users:
            containers = ", ".join(sorted({e.container_id[:12] for e in users}))
            raise NetworkInUse(
                f"network {network.name} has active endpoints (containers {containers})"
            )
        async with self._lock:
            await self._unplumb_network(network)
            self._state.remove_network(network.id)
        log.info("network %s (%s) removed", network.name, network.id[:12])

    def _new_bridge_network(
        self,
        name: str,
        subnet: str,
        gateway: str | None,
        bridge_name: str,
        internal: bool,
        labels: dict[str, str],
        options: dict[str, str],
    ) -> Network:
        """Validate a new bridge network against the rules and the existing ones."""
        net = ipam.parse_subnet(subnet)
        gw = (
            ipam.default_gateway(net)
            if gateway is None
            else ipam.parse_address(gateway)
        )
        ipam.check_gateway(net, gw)

        existing = self.list_networks()
        ipam.check_no_overlap(
            net, (ipam.parse_subnet(n.subnet) for n in existing if n.subnet)
        )
        for other in existing:
            if other.bridge == bridge_name:
                raise NetworkInUse(
                    f"bridge {bridge_name} is already used by network {other.name}"
                )
        return Network(
            id=secrets.token_hex(32),
            name=name,
            driver=NetworkDriver.BRIDGE,
            bridge=bridge_name,
            subnet=str(net),
            gateway=str(gw),
            internal=internal,
            labels=labels,
            options=options,
        )

    def _ensure_record(self, name: str, driver: NetworkDriver) -> None:
        if not any(n.name == name for n in self.list_networks()):
            self._state.add_network(
                Network(id=secrets.token_hex(32), name=name, driver=driver)
            )

    def _ensure_default_bridge(self) -> None:
        subnet = str(self.bip.network)
        for network in self.list_networks():
            if network.name != DEFAULT_NETWORK:
                continue
            if (network.bridge, network.subnet) != (self.bridge_name, subnet):
                raise NetworkError(
                    f"network {DEFAULT_NETWORK} is on {network.bridge} {network.subnet}"
                    f" in the database, but the daemon is configured for "
                    f"{self.bridge_name} {self.bip}; remove its endpoints and records"
                    " before changing the bridge or bip"
                )
            return
        self._state.add_network(
            Network(
                id=secrets.token_hex(32),
                name=DEFAULT_NETWORK,
                driver=NetworkDriver.BRIDGE,
                bridge=self.bridge_name,
                subnet=subnet,
                gateway=str(self.bip.ip),
            )
        )

    async def _plumb_network(self, network: Network) -> None:
        assert network.bridge and network.subnet and network.gateway
        prefix = ipam.parse_subnet(network.subnet).prefixlen
        await links.ensure_bridge(
            network.bridge, IPv4Interface(f"{network.gateway}/{prefix}")
        )
        await nat.add_bridge_rules(network.bridge, network.subnet, network.internal)

    async def _unplumb_network(self, network: Network) -> None:
        assert network.bridge and network.subnet
        await nat.remove_bridge_rules(network.bridge, network.subnet, network.internal)
        await links.delete_link(network.bridge)

    # Endpoints.

    async def create_endpoint(
        self,
        container_id: str,
        network: str,
        *,
        priority: int = 0,
        disable_resolver: bool = False,
        generic_params: dict[str, Any] | None = None,
        ip: str | None = None,
        aliases: list[str] | None = None,
    ) -> Endpoint:
        """Record an endpoint with its address and MAC; no kernel object yet."""
        net = self.get_network(network)
        params = dict(generic_params or {})
        wants_ip = net.driver is NetworkDriver.BRIDGE
        if ip is not None and not wants_ip:
            raise NetworkError(f"network {net.name} ({net.driver}) takes no address")

        endpoint_id = secrets.token_hex(32)
        request = EndpointRequest(
            id=endpoint_id,
            container_id=container_id,
            priority=priority,
            disable_resolver=disable_resolver,
            generic_params=params,
            aliases=list(aliases or []),
            mac=_requested_mac(params) if wants_ip else None,
            host_veth=f"veth{endpoint_id[:7]}" if wants_ip else None,
        )
        requested = None if ip is None else ipam.parse_address(ip)
        self._state.add_endpoint(net, request, requested)

        endpoint = self._find_endpoint(container_id, endpoint_id)
        log.info(
            "endpoint %s of container %s on %s: %s",
            endpoint_id[:12],
            container_id[:12],
            net.name,
            endpoint.ip,
        )
        return endpoint

    def endpoints(self, container_id: str) -> list[Endpoint]:
        return name_interfaces(self._state.endpoints(container_id))

    def network_endpoints(self, name_or_id: str) -> list[Endpoint]:
        """The endpoints on a network, for inspection (``Containers`` in the API)."""
        return self._state.network_endpoints(self.get_network(name_or_id).id)

    def _find_endpoint(self, container_id: str, endpoint_id: str) -> Endpoint:
        return next(e for e in self.endpoints(container_id) if e.id == endpoint_id)

    async def join(self, container_id: str, pid: int) -> None:
        """Wire the namespace of ``pid`` with the container's endpoints."""
        endpoints = [e for e in self.endpoints(container_id) if e.host_veth]
        if not endpoints:
            return
        plugs = [self._plug(e) for e in endpoints]
        gateway = self._default_gateway(endpoints)

        async with self._lock:
            await links.wire(pid, plugs, gateway)
        log.info(
            "container %s joined (pid %d): %s",
            container_id[:12],
            pid,
            ", ".join(f"{p.ifname}={p.address}" for p in plugs),
        )

    def _plug(self, endpoint: Endpoint) -> links.Plug:
        network = self._state.find_network(endpoint.network_id)
        assert network.bridge and endpoint.ifname and endpoint.host_veth
        assert endpoint.ip and endpoint.mac
        return links.Plug(
            host_veth=endpoint.host_veth,
            bridge=network.bridge,
            ifname=endpoint.ifname,
            mac=endpoint.mac,
            address=IPv4Interface(f"{endpoint.ip}/{endpoint.prefix_len}"),
        )

    def _default_gateway(
        self, endpoints: list[Endpoint]
    ) -> tuple[str, IPv4Address] | None:
        """The gateway of the first endpoint in priority order whose network reaches
        outside; an internal network has no way out to route through."""
        for endpoint in endpoints:
            network = self._state.find_network(endpoint.network_id)
            if not network.internal and endpoint.gateway and endpoint.ifname:
                return endpoint.ifname, IPv4Address(endpoint.gateway)
        return None

    async def release(self, container_id: str) -> None:
        """Remove the container's veths and endpoints and free their addresses."""
        async with self._lock:
            for endpoint in self._state.endpoints(container_id):
                if endpoint.host_veth and await links.delete_link(endpoint.host_veth):
                    log.debug("veth %s removed", endpoint.host_veth)
            removed = self._state.remove_endpoints(container_id)
        if removed:
            log.info(
                "container %s released %d endpoints", container_id[:12], len(removed)
            )

    # Files.

    def write_container_files(
        self, container_id: str, dir: Path, hostname: str, mode: str
    ) -> dict[str, Path]:
        """resolv.conf, hosts and hostname for the container, in ``dir``.

        ``mode`` is one of ``files.MODES``; it is a plain string here because it
        comes straight from a container's network mode.
        """
        if mode not in files.MODES:
            raise NetworkError(
                f"container {container_id}: network mode {mode!r} has no files; "
                f"expected one of {', '.join(files.MODES)}"
            )
        addressed = [e for e in self.endpoints(container_id) if e.ip]
        address = addressed[0].ip if addressed else None
        return files.write_files(dir, hostname, mode, address)


def name_interfaces(endpoints: Iterable[Endpoint]) -> list[Endpoint]:
    """Order endpoints by priority, highest first, ties by creation, and name the
    ones that get an interface eth0, eth1, ... in that order."""
    ordered = sorted(endpoints, key=lambda e: (-e.priority, e.seq))
    named: list[Endpoint] = []
    count = 0
    for endpoint in ordered:
        if endpoint.host_veth:
            endpoint = replace(endpoint, ifname=f"eth{count}")
            count += 1
        named.append(endpoint)
    return named


def _requested_mac(params: dict[str, Any]) -> str | None:
    for key in MAC_PARAM_KEYS:
        value = params.get(key)
        if value:
            return ipam.parse_mac(str(value))
    return None
