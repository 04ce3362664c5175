"""Netlink work: bridges on the host, and the veth pairs that wire a container's
network namespace to them.

The problem: a container's namespace is reachable only as ``/proc/<pid>/ns/net`` of a
process runc has created but not yet started. An interface must be made in it,
named, addressed and routed through, and a failure at any step must leave no
half-made veth behind, on either side.

The obvious way is to enter the namespace: ``setns`` in the daemon, or a child
process through ``nsenter`` or ``ip netns exec`` (pyroute2's ``netns=`` forks such a
child too). ``setns`` on the event loop's thread would move every other coroutine
into the container, and forking a process that runs gRPC threads is unsafe.

What we do instead:

- open the namespace file once and use the descriptor throughout, so a pid that
  exits and is reused cannot redirect us into another namespace;
- create each veth pair with its peer born in the container's namespace, under its
  final name and MAC, so creation is one netlink request that succeeds or leaves
  nothing;
- get a netlink socket inside the namespace from a short-lived thread that calls
  ``setns`` on itself alone; a netlink socket stays bound to the namespace it was
  made in, so the rest is ordinary async netlink from the loop;
- on any failure delete the host ends made so far, which deletes their peers.
"""

import asyncio
import ctypes
import errno
import logging
import os
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv4Interface, IPv4Network
from typing import TypeVar

from pyroute2 import AsyncIPRoute
from pyroute2.netlink.exceptions import NetlinkError

from pouch.network.errors import NetworkError, SandboxError

log = logging.getLogger("pouch.network")

_CLONE_NEWNET = 0x40000000

T = TypeVar("T")


@dataclass(frozen=True)
class Plug:
    """One veth pair to make: its host end on ``bridge``, its peer in the container."""

    host_veth: str
    bridge: str
    ifname: str
    mac: str
    address: IPv4Interface
    mtu: int | None = None


async def ensure_bridge(
    name: str, address: IPv4Interface, mtu: int | None = None
) -> None:
    """Make the bridge if it is missing, give it the gateway address, bring it up."""
    async with AsyncIPRoute() as ipr:
        index = await _lookup(ipr, name)
        if index is None:
            await ipr.link("add", ifname=name, kind="bridge")
            index = await _require(ipr, name)
            log.info("bridge %s created", name)
        elif await _kind(ipr, index) != "bridge":
            raise NetworkError(f"interface {name} exists and is not a bridge")

        if str(address) not in await _addresses(ipr, index):
            await ipr.addr(
                "add",
                index=index,
                address=str(address.ip),
                prefixlen=address.network.prefixlen,
            )
        if mtu is not None:
            await ipr.link("set", index=index, mtu=mtu)
        await ipr.link("set", index=index, state="up")


async def delete_link(name: str) -> bool:
    """Delete an interface; ``False`` if it was already gone."""
    async with AsyncIPRoute() as ipr:
        index = await _lookup(ipr, name)
        if index is None:
            return False
        try:
            await ipr.link("del", index=index)
        except NetlinkError as e:
            if e.code == errno.ENODEV:
                return False
            raise
    return True


async def routed_networks() -> list[IPv4Network]:
    """The IPv4 destinations the host routes to, to keep new subnets clear of."""
    found = []
    async with AsyncIPRoute() as ipr:
        async for route in await ipr.route("dump", family=socket.AF_INET):
            dst = route.get_attr("RTA_DST")
            if dst and route["dst_len"] > 0:
                found.append(IPv4Network(f"{dst}/{route['dst_len']}", strict=False))
    return found


async def link_exists(name: str) -> bool:
    async with AsyncIPRoute() as ipr:
        return await _lookup(ipr, name) is not None


async def wire(
    pid: int, plugs: list[Plug], gateway: tuple[str, IPv4Address] | None
) -> None:
    """Wire the namespace of ``pid``: one veth pair per plug, then the default route
    through ``gateway`` (interface name inside, gateway address) if given."""
    nsfd = _open_netns(pid)
    made: list[str] = []
    try:
        await _make_pairs(nsfd, plugs, made)
        await _configure_inside(nsfd, plugs, gateway)
    except BaseException as e:
        for name in made:
            await _delete_quietly(name)
        if isinstance(e, Exception) and not isinstance(e, NetworkError):
            raise SandboxError(f"wiring the network of pid {pid} failed: {e}") from e
        raise
    finally:
        os.close(nsfd)


async def _make_pairs(nsfd: int, plugs: list[Plug], made: list[str]) -> None:
    async with AsyncIPRoute() as ipr:
        for plug in plugs:
            bridge = await _require(ipr, plug.bridge)
            peer: dict[str, object] = {
                "ifname": plug.ifname,
                "address": plug.mac,
                "net_ns_fd": nsfd,
            }
            extra: dict[str, object] = {}
            if plug.mtu is not None:
                peer["mtu"] = extra["mtu"] = plug.mtu
            await ipr.link(
                "add", ifname=plug.host_veth, kind="veth", peer=peer, **extra
            )
            made.append(plug.host_veth)

            host = await _require(ipr, plug.host_veth)
            await ipr.link("set", index=host, master=bridge, state="up")
            log.debug(
                "veth %s on %s, peer %s", plug.host_veth, plug.bridge, plug.ifname
            )


async def _configure_inside(
    nsfd: int, plugs: list[Plug], gateway: tuple[str, IPv4Address] | None
) -> None:
    sock = await asyncio.to_thread(_netlink_socket_in, nsfd)
    async with AsyncIPRoute(use_socket=sock) as ns:
        await ns.link("set", index=await _require(ns, "lo"), state="up")
        for plug in plugs:
            index = await _require(ns, plug.ifname)
            await ns.addr(
                "add",
                index=index,
                address=str(plug.address.ip),
                prefixlen=plug.address.network.prefixlen,
            )
            await ns.link("set", index=index, state="up")

        if gateway is not None:
            await _replace_default_route(ns, gateway)


async def _replace_default_route(
    ns: AsyncIPRoute, gateway: tuple[str, IPv4Address] | None
) -> None:
    """Drop any IPv4 default route, then route through ``gateway`` if given."""
    async for route in await ns.route("dump", family=socket.AF_INET):
        if route["dst_len"] == 0 and route.get_attr("RTA_TABLE") == 254:
            await ns.route("del", dst="0.0.0.0/0", oif=route.get_attr("RTA_OIF"))
    if gateway is not None:
        ifname, address = gateway
        oif = await _require(ns, ifname)
        await ns.route("add", dst="0.0.0.0/0", gateway=str(address), oif=oif)


async def set_default_route(pid: int, gateway: tuple[str, IPv4Address] | None) -> None:
    """Move the default route of the namespace of ``pid`` to ``gateway`` (none: no
    default route), as a container's endpoints come and go."""
    nsfd = _open_netns(pid)
    try:
        sock = await asyncio.to_thread(_netlink_socket_in, nsfd)
        async with AsyncIPRoute(use_socket=sock) as ns:
            await _replace_default_route(ns, gateway)
    except NetlinkError as e:
        raise SandboxError(f"setting the default route of pid {pid}: {e}") from e
    finally:
        os.close(nsfd)


def _open_netns(pid: int) -> int:
    try:
        return os.open(f"/proc/{pid}/ns/net", os.O_RDONLY)
    except OSError as e:
        raise SandboxError(
            f"cannot open the network namespace of pid {pid}: {e}"
        ) from e


def _netlink_socket_in(nsfd: int) -> socket.socket:
    """A NETLINK_ROUTE socket bound to the namespace ``nsfd``."""
    return socket_in(nsfd, lambda: socket.socket(socket.AF_NETLINK, socket.SOCK_DGRAM))


def sockets_in_netns(
    pid: int, make: Callable[[], list[socket.socket]]
) -> list[socket.socket]:
    """Sockets made by ``make`` inside the network namespace of ``pid``; they stay
    in that namespace for their whole life (the embedded DNS server's)."""
    nsfd = _open_netns(pid)
    try:
        return socket_in(nsfd, make)
    finally:
        os.close(nsfd)


def socket_in(nsfd: int, make: Callable[[], T]) -> T:
    """Whatever ``make`` returns, made inside the namespace ``nsfd``.

    Made on a thread of its own that enters the namespace and then ends, so no
    other thread, and in particular not the event loop's, changes namespace.
    """
    result: list[T | BaseException] = []

    def enter_and_open() -> None:
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.setns(nsfd, _CLONE_NEWNET) != 0:
            err = ctypes.get_errno()
            result.append(OSError(err, f"setns: {os.strerror(err)}"))
            return
        try:
            result.append(make())
        except BaseException as e:
            result.append(e)

    thread = threading.Thread(target=enter_and_open, name="pouch-netns")
    thread.start()
    thread.join()
    found = result[0]
    if isinstance(found, BaseException):
        raise found
    return found


async def _delete_quietly(name: str) -> None:
    try:
        await delete_link(name)
    except Exception:
        log.exception("could not remove veth %s after a failed wiring", name)


async def _lookup(ipr: AsyncIPRoute, name: str) -> int | None:
    found = await ipr.link_lookup(ifname=name)
    return found[0] if found else None


async def _require(ipr: AsyncIPRoute, name: str) -> int:
    index = await _lookup(ipr, name)
    if index is None:
        raise NetworkError(f"interface {name} not found")
    return index


async def _kind(ipr: AsyncIPRoute, index: int) -> str | None:
    for link in await ipr.link("get", index=index):
        info = link.get_attr("IFLA_LINKINFO")
        return None if info is None else info.get_attr("IFLA_INFO_KIND")
    return None


async def _addresses(ipr: AsyncIPRoute, index: int) -> set[str]:
    found = set()
    async for addr in await ipr.addr("dump", index=index, family=socket.AF_INET):
        found.add(f"{addr.get_attr('IFA_ADDRESS')}/{addr['prefixlen']}")
    return found
