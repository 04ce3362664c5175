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
import socket
from collections.abc import Iterable
from dataclasses import replace
from ipaddress import IPv4Address, IPv4Interface, IPv4Network
from pathlib import Path
from typing import Any, NamedTuple

from pouch.network import dns, files, ipam, links, nat, ports
from pouch.network.errors import (
    InvalidAddress,
    NetworkError,
    NetworkInUse,
    PoolExhausted,
    SubnetOverlap,
)
from pouch.network.models import (
    DEFAULT_IFNAME_PREFIX,
    IFNAME_PREFIX_KEYS,
    MAC_PARAM_KEYS,
    PREDEFINED,
    Endpoint,
    Network,
    NetworkDriver,
    PortRecord,
    PortRequest,
)
from pouch.network.state import EndpointRequest, NetworkState

log = logging.getLogger("pouch.network")

DEFAULT_NETWORK = "bridge"


class _Target(NamedTuple):
    """Where a container's published ports lead: its first address and bridge."""

    ip: str | None
    bridge: str


# Where a network created without a subnet gets one: the first /16 of these that
# neither another network nor a route of the host's overlaps, as Docker picks.
AUTO_SUBNETS = [IPv4Network(f"172.{n}.0.0/16") for n in range(18, 32)]


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
        self._dns = dns.DnsService(self.lookup)
        self._proxies = ports.Proxies()
        # What each container's files were asked to hold, for the rewrites of its
        # resolv.conf and its embedded server's upstreams.
        self._file_options: dict[str, files.FileOptions] = {}

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
        """Close the database, the DNS servers and the port listeners. Bridges, rules
        and veths stay: containers outlive the daemon and keep their network; the
        servers and listeners come back when the containers are re-adopted."""
        self._dns.close()
        self._proxies.close()
        self._state.close()

    # Networks.

    def get_network(self, name_or_id: str) -> Network:
        return self._state.find_network(name_or_id)

    def list_networks(self) -> list[Network]:
        return self._state.networks()

    async def create_network(
        self,
        name: str,
        subnet: str | None = None,
        gateway: str | None = None,
        bridge_name: str | None = None,
        internal: bool = False,
        labels: dict[str, str] | None = None,
        options: dict[str, str] | None = None,
        ip_range: str | None = None,
    ) -> Network:
        """Create a bridge network: its record, bridge and rules."""
        if subnet is None:
            subnet = await self._free_subnet()
        network = self._new_bridge_network(
            name,
            subnet,
            gateway,
            bridge_name,
            internal,
            labels or {},
            options or {},
            ip_range,
        )
        assert network.bridge
        async with self._lock:
            # Refused up front, so that undoing a failed creation below never
            # deletes an interface someone else made.
            if await links.link_exists(network.bridge):
                raise NetworkInUse(f"interface {network.bridge} already exists")
            self._state.add_network(network)
            try:
                await self._plumb_network(network)
            except BaseException:
                await self._unplumb_network(network)
                self._state.remove_network(network.id)
                raise
        log.info("network %s (%s) created on %s", name, network.id[:12], network.bridge)
        return network

    async def _free_subnet(self) -> str:
        taken = [ipam.parse_subnet(n.subnet) for n in self.list_networks() if n.subnet]
        taken += await links.routed_networks()
        for candidate in AUTO_SUBNETS:
            if not any(candidate.overlaps(other) for other in taken):
                return str(candidate)
        raise PoolExhausted("of automatic subnets (172.18.0.0/16 to 172.31.0.0/16)")

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
        bridge_name: str | None,
        internal: bool,
        labels: dict[str, str],
        options: dict[str, str],
        ip_range: str | None,
    ) -> Network:
        """Validate a new bridge network against the rules and the existing ones."""
        net = ipam.parse_subnet(subnet)
        ipam.check_room(net)
        gw = (
            ipam.default_gateway(net)
            if gateway is None
            else ipam.parse_address(gateway)
        )
        ipam.check_gateway(net, gw)
        if ip_range is not None:
            ipam.check_range(net, ipam.parse_subnet(ip_range))
        _check_mtu(options)

        existing = self.list_networks()
        for other in existing:
            if other.subnet and net.overlaps(ipam.parse_subnet(other.subnet)):
                raise SubnetOverlap(
                    f"subnet {net} of network {name} overlaps subnet {other.subnet} "
                    f"of network {other.name}"
                )
        network_id = secrets.token_hex(32)
        bridge = bridge_name or f"br-{network_id[:12]}"
        _check_ifname(bridge)
        for other in existing:
            if other.bridge == bridge:
                raise NetworkInUse(
                    f"bridge {bridge} is already used by network {other.name}"
                )
        return Network(
            id=network_id,
            name=name,
            driver=NetworkDriver.BRIDGE,
            bridge=bridge,
            subnet=str(net),
            gateway=str(gw),
            internal=internal,
            labels=labels,
            options=options,
            ip_range=ip_range,
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
            network.bridge, IPv4Interface(f"{network.gateway}/{prefix}"), network.mtu
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
        mac: str | None = None,
    ) -> Endpoint:
        """Record an endpoint with its address and MAC; no kernel object yet.

        ``mac`` (``--mac-address``) wins over a MAC in ``generic_params``.
        """
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
            mac=(ipam.parse_mac(mac) if mac else _requested_mac(params))
            if wants_ip
            else None,
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
        """Wire the namespace of ``pid`` with the container's endpoints that have no
        interface yet, route through the highest priority one that reaches out, and
        serve its embedded DNS if it uses one.

        At start every endpoint is new; on a live connect only the new one is.
        """
        endpoints = self.endpoints(container_id)
        fresh = [e for e in endpoints if e.host_veth and e.ifname and not e.plugged]
        if fresh:
            plugs = [self._plug(e) for e in fresh]
            first = len(fresh) == len([e for e in endpoints if e.host_veth])
            gateway = self._default_gateway(endpoints)
            async with self._lock:
                await links.wire(pid, plugs, gateway if first else None)
                self._state.set_ifnames({e.id: e.ifname or "" for e in fresh})
                if not first:
                    await links.set_default_route(pid, gateway)
            log.info(
                "container %s joined (pid %d): %s",
                container_id[:12],
                pid,
                ", ".join(f"{p.ifname}={p.address}" for p in plugs),
            )
        await self._serve_dns(container_id, pid)

    async def disconnect(
        self, container_id: str, network: str, pid: int | None
    ) -> None:
        """Remove the container's endpoint on ``network``; with ``pid`` (running)
        its interface goes and the default route moves to the next endpoint."""
        net = self.get_network(network)
        endpoint = next(
            (e for e in self.endpoints(container_id) if e.network_id == net.id), None
        )
        if endpoint is None:
            raise NetworkError(
                f"container {container_id} is not connected to network {net.name}"
            )
        moved = [
            PortRequest(p.proto, p.container_port, p.host_ip, p.host_port)
            for p in self._state.ports(container_id)
        ]
        if any(p.container_ip == endpoint.ip for p in self._state.ports(container_id)):
            await self._unpublish(container_id)
        else:
            moved = []
        async with self._lock:
            if endpoint.host_veth:
                await links.delete_link(endpoint.host_veth)
            self._state.remove_endpoint(endpoint.id)
            rest = self.endpoints(container_id)
            if pid is not None and endpoint.host_veth:
                await links.set_default_route(pid, self._default_gateway(rest))
        if not self.uses_embedded_dns(container_id):
            self._dns.stop(container_id)
        await self._republish(container_id, moved)
        log.info("container %s left network %s", container_id[:12], net.name)

    async def _republish(self, container_id: str, requests: list[PortRequest]) -> None:
        """Published ports lead to the container's first address; when the endpoint
        that had it goes, they follow to the next one, or go if none is left."""
        if not requests:
            return
        try:
            self._port_target(container_id)
        except NetworkError:
            log.info("container %s: no address left, ports unpublished", container_id)
            return
        await self.publish(container_id, requests)

    async def readopt(
        self, container_id: str, pid: int, options: files.FileOptions | None = None
    ) -> None:
        """Bring back what lives in the daemon for a running container after a
        restart: its DNS server and port listeners, and the ``options`` its files
        were written with. Kernel objects and rules stayed."""
        if options is not None:
            self._file_options[container_id] = self._resolved(options)
        await self._serve_dns(container_id, pid)
        records = self._state.ports(container_id)
        if not records:
            return
        bound: list[tuple[socket.socket, PortRecord]] = []
        try:
            for record in records:
                request = PortRequest(
                    record.proto, record.container_port, record.host_ip,
                    record.host_port,
                )  # fmt: skip
                bound.append((ports.bind(request), record))
                await ports.add_rules(record)
            await self._proxies.start(container_id, bound)
        except BaseException:
            for sock, _ in bound:
                sock.close()
            raise

    async def _serve_dns(self, container_id: str, pid: int) -> None:
        if self.uses_embedded_dns(container_id):
            options = self._file_options.get(container_id, files.FileOptions())
            await self._dns.serve(container_id, pid, list(options.dns))

    def uses_embedded_dns(self, container_id: str) -> bool:
        """Whether the container's resolv.conf names the embedded server: it has an
        endpoint on a user-defined network whose plugin did not disable it."""
        return any(self._resolves_on(e) for e in self._state.endpoints(container_id))

    def _resolves_on(self, endpoint: Endpoint) -> bool:
        network = self._state.find_network(endpoint.network_id)
        user_defined = network.name not in PREDEFINED
        return user_defined and bool(endpoint.ip) and not endpoint.disable_resolver

    def lookup(self, container_id: str, name: str) -> list[str] | None:
        """The addresses of ``name`` (a container name, short id or alias) on the
        networks where ``container_id`` resolves names; ``None`` if unknown."""
        found: list[str] = []
        for endpoint in self._state.endpoints(container_id):
            if not self._resolves_on(endpoint):
                continue
            for peer in self._state.network_endpoints(endpoint.network_id):
                names = {a.lower() for a in peer.aliases}
                if peer.ip and name in names and peer.ip not in found:
                    found.append(peer.ip)
        return found or None

    # Published ports.

    async def publish(
        self, container_id: str, requests: list[PortRequest]
    ) -> list[PortRecord]:
        """Bind the host ports, record them, write their rules and start their
        listeners. A port in use anywhere raises ``PortInUse`` with nothing left."""
        if not requests:
            return []
        target = self._port_target(container_id)
        bound: list[tuple[socket.socket, PortRecord]] = []
        try:
            for request in requests:
                sock = ports.bind(request)
                host_port = sock.getsockname()[1]
                record = PortRecord(
                    container_id, request.proto, request.host_ip, host_port,
                    target.ip or "", request.container_port, target.bridge,
                )  # fmt: skip
                bound.append((sock, record))
            self._state.add_ports([r for _, r in bound])
            for _, record in bound:
                await ports.add_rules(record)
            await self._proxies.start(container_id, bound)
        except BaseException:
            for sock, _ in bound:
                sock.close()
            await self._unpublish(container_id)
            raise
        log.info("container %s published %d ports", container_id[:12], len(bound))
        return [r for _, r in bound]

    def published(self, container_id: str) -> list[PortRecord]:
        return self._state.ports(container_id)

    def _port_target(self, container_id: str) -> _Target:
        for endpoint in self.endpoints(container_id):
            network = self._state.find_network(endpoint.network_id)
            if endpoint.ip and network.bridge:
                return _Target(endpoint.ip, network.bridge)
        raise NetworkError(
            f"container {container_id} has no address to publish ports to"
        )

    async def _unpublish(self, container_id: str) -> None:
        self._proxies.stop(container_id)
        for record in self._state.ports(container_id):
            await ports.remove_rules(record)
        self._state.remove_ports(container_id)

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
            mtu=network.mtu,
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
        """Remove the container's DNS server, published ports, veths and endpoints,
        and free their addresses."""
        self._dns.stop(container_id)
        self._file_options.pop(container_id, None)
        await self._unpublish(container_id)
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
        self,
        container_id: str,
        dir: Path,
        hostname: str,
        mode: str,
        options: files.FileOptions | None = None,
    ) -> dict[str, Path]:
        """resolv.conf, hosts and hostname for the container, in ``dir``, with what
        ``options`` asks (``host-gateway`` is the default bridge's address).

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
        embedded = dns.ADDRESS if self.uses_embedded_dns(container_id) else None
        resolved = self._resolved(options or files.FileOptions())
        self._file_options[container_id] = resolved
        return files.write_files(
            dir, hostname, mode, address, nameserver=embedded, options=resolved
        )

    def _resolved(self, options: files.FileOptions) -> files.FileOptions:
        """``options`` with ``host-gateway`` replaced by the default bridge's
        gateway, the host's address as containers reach it."""
        gateway = str(self.bip.ip)
        hosts = tuple(
            (name, gateway if address == files.HOST_GATEWAY else address)
            for name, address in options.extra_hosts
        )
        return replace(options, extra_hosts=hosts)

    def refresh_resolv(self, container_id: str, path: Path) -> None:
        """After a live connect or disconnect: point the container's resolv.conf at
        the embedded server, or back at the host's resolvers (or those it asked
        for), as it now should."""
        embedded = dns.ADDRESS if self.uses_embedded_dns(container_id) else None
        options = self._file_options.get(container_id, files.FileOptions())
        if path.exists():
            files.rewrite_resolv(path, embedded, options=options)


def name_interfaces(endpoints: Iterable[Endpoint]) -> list[Endpoint]:
    """Order endpoints by priority, highest first, ties by creation, and name the
    ones that get an interface and have no name yet: ``<prefix>N`` with the lowest
    N free for that prefix (``eth`` unless a generic parameter gives another). At
    start that is eth0, eth1, ... in priority order; an endpoint connected later
    takes the next free name, as live interfaces cannot be renamed."""
    ordered = sorted(endpoints, key=lambda e: (-e.priority, e.seq))
    taken = {e.ifname for e in ordered if e.ifname}
    named: list[Endpoint] = []
    for endpoint in ordered:
        if endpoint.host_veth and not endpoint.ifname:
            prefix = _ifname_prefix(endpoint.generic_params)
            ifname = next(
                f"{prefix}{n}"
                for n in range(len(taken) + 1)
                if f"{prefix}{n}" not in taken
            )
            taken.add(ifname)
            endpoint = replace(endpoint, ifname=ifname, plugged=False)
        named.append(endpoint)
    return named


def _ifname_prefix(params: dict[str, Any]) -> str:
    for key in IFNAME_PREFIX_KEYS:
        value = params.get(key)
        if value:
            _check_ifname(f"{value}99")
            return str(value)
    return DEFAULT_IFNAME_PREFIX


def _check_ifname(name: str) -> None:
    """The kernel's rule for interface names (dev_valid_name): 1 to 15 bytes, not
    ``.`` or ``..``, no ``/``, ``:`` or whitespace."""
    size = len(name.encode())
    if (
        not 0 < size <= 15
        or name in (".", "..")
        or any(c in "/:" or c.isspace() for c in name)
    ):
        raise InvalidAddress(
            f"invalid interface name {name!r}: 1 to 15 bytes, not '.' or '..', "
            "no '/', ':' or whitespace"
        )


def _check_mtu(options: dict[str, str]) -> None:
    from pouch.network.models import MTU_OPTION

    value = options.get(MTU_OPTION)
    text = str(value)
    if value is not None and not (
        text.isascii() and text.isdigit() and 68 <= int(text) <= 65535
    ):
        raise InvalidAddress(f"invalid MTU {value!r}: expected 68 to 65535")


def _requested_mac(params: dict[str, Any]) -> str | None:
    for key in MAC_PARAM_KEYS:
        value = params.get(key)
        if value:
            return ipam.parse_mac(str(value))
    return None
