"""Published ports: a host port forwarded to a container's port.

Two paths carry the traffic, as Docker's userland proxy and its DNAT rules do:

- a DNAT rule in our nat chain ``POUCH``, reached from PREROUTING and OUTPUT for
  local destinations other than loopback, takes traffic that arrives at the host's
  own addresses straight to the container;
- the kernel does not route 127.0.0.1 to a bridge without ``route_localnet`` and
  hairpin tricks, so the daemon also listens on the host port and copies each
  connection (or datagram) to the container. The listener is bound before any rule
  is written, which is also how a port taken by anything else on the host is found
  before the container starts.

Listeners live in the daemon: they go when it stops and are bound again when it
re-adopts the running containers. Rules stay, and are idempotent.
"""

import asyncio
import contextlib
import errno
import functools
import logging
import socket
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import cast

from pouch.network import nat
from pouch.network.errors import PortInUse
from pouch.network.models import PortRecord, PortRequest

log = logging.getLogger("pouch.network")

PORT_CHAIN = "POUCH"
_LOCAL = ["-m", "addrtype", "--dst-type", "LOCAL"]
_JUMPS = (
    ("PREROUTING", [*_LOCAL, "-j", PORT_CHAIN]),
    ("OUTPUT", ["!", "-d", "127.0.0.0/8", *_LOCAL, "-j", PORT_CHAIN]),
)
_BUFFER = 64 * 1024


def bind(request: PortRequest) -> socket.socket:
    """A socket bound to the host side of ``request``; port 0 gets a free one."""
    kind = socket.SOCK_STREAM if request.proto == "tcp" else socket.SOCK_DGRAM
    sock = socket.socket(socket.AF_INET, kind)
    try:
        if kind == socket.SOCK_STREAM:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((request.host_ip or "0.0.0.0", request.host_port))
        if kind == socket.SOCK_STREAM:
            sock.listen(128)
    except OSError as e:
        sock.close()
        where = f"{request.host_ip or '0.0.0.0'}:{request.host_port}/{request.proto}"
        if e.errno == errno.EADDRINUSE:
            raise PortInUse(f"host port {where} is already in use") from e
        raise PortInUse(f"cannot bind host port {where}: {e.strerror}") from e
    return sock


def port_rules(p: PortRecord) -> list[tuple[str, str, list[str]]]:
    """The rules one published port needs, as (table, chain, rule)."""
    dest = ["-d", p.host_ip] if p.host_ip not in ("", "0.0.0.0") else []
    dnat = [
        "-p", p.proto, *dest, "--dport", str(p.host_port), "!", "-i", p.bridge,
        "-j", "DNAT", "--to-destination", f"{p.container_ip}:{p.container_port}",
    ]  # fmt: skip
    accept = [
        "-d", f"{p.container_ip}/32", "!", "-i", p.bridge, "-o", p.bridge,
        "-p", p.proto, "--dport", str(p.container_port), "-j", "ACCEPT",
    ]  # fmt: skip
    return [("nat", PORT_CHAIN, dnat), ("filter", nat.FILTER_CHAIN, accept)]


async def ensure_chain() -> None:
    await nat.ensure_chains()
    if not await nat.chain_exists("nat", PORT_CHAIN):
        code, _, err = await nat.iptables("-t", "nat", "-N", PORT_CHAIN)
        if code != 0 and not await nat.chain_exists("nat", PORT_CHAIN):
            raise nat.IptablesError(f"iptables -t nat -N {PORT_CHAIN} failed: {err}")
    for parent, rule in _JUMPS:
        await nat.ensure_rule("nat", parent, rule)


async def add_rules(p: PortRecord) -> None:
    await ensure_chain()
    for table, chain, rule in port_rules(p):
        await nat.ensure_rule(table, chain, rule)


async def remove_rules(p: PortRecord) -> None:
    for table, chain, rule in port_rules(p):
        if await nat.chain_exists(table, chain):
            await nat.delete_rule(table, chain, rule)


@dataclass
class _Proxy:
    """The listeners of one container's published ports."""

    servers: list[asyncio.AbstractServer] = field(default_factory=list)
    transports: list[asyncio.BaseTransport] = field(default_factory=list)

    def close(self) -> None:
        for server in self.servers:
            server.close()
        for transport in self.transports:
            transport.close()


class Proxies:
    """Every container's port listeners, copying traffic to the container."""

    def __init__(self) -> None:
        self._proxies: dict[str, _Proxy] = {}

    async def start(
        self, container_id: str, bound: list[tuple[socket.socket, PortRecord]]
    ) -> None:
        proxy = self._proxies.setdefault(container_id, _Proxy())
        loop = asyncio.get_running_loop()
        for sock, record in bound:
            target = (record.container_ip, record.container_port)
            if record.proto == "tcp":
                server = await asyncio.start_server(_tcp_handler(target), sock=sock)
                proxy.servers.append(server)
            else:
                transport, _ = await loop.create_datagram_endpoint(
                    functools.partial(_UdpForwarder, target), sock=sock
                )
                proxy.transports.append(transport)

    def stop(self, container_id: str) -> None:
        proxy = self._proxies.pop(container_id, None)
        if proxy is not None:
            proxy.close()

    def close(self) -> None:
        for container_id in list(self._proxies):
            self.stop(container_id)


def _tcp_handler(
    target: tuple[str, int],
) -> Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]:
    return lambda reader, writer: _copy_tcp(reader, writer, target)


async def _copy_tcp(
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
    target: tuple[str, int],
) -> None:
    try:
        up_reader, up_writer = await asyncio.open_connection(*target)
    except OSError as e:
        log.debug("proxy to %s:%d refused: %s", *target, e)
        writer.close()
        return
    try:
        await asyncio.gather(_pump(reader, up_writer), _pump(up_reader, writer))
    finally:
        writer.close()
        up_writer.close()


async def _pump(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Copy one direction; at its end, half-close, as the other may still talk."""
    with contextlib.suppress(OSError):
        while data := await reader.read(_BUFFER):
            writer.write(data)
            await writer.drain()
        if writer.can_write_eof():
            writer.write_eof()


class _UdpForwarder(asyncio.DatagramProtocol):
    """Datagrams from each client go out through a socket of that client's own, so
    replies find their way back."""

    def __init__(self, target: tuple[str, int]) -> None:
        self._target = target
        self._listener: asyncio.DatagramTransport | None = None
        self._clients: dict[tuple[str, int], asyncio.DatagramTransport] = {}

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # The loop's datagram transports do not all derive from DatagramTransport.
        self._listener = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        upstream = self._clients.get(addr)
        if upstream is not None:
            upstream.sendto(data)
            return
        asyncio.get_running_loop().create_task(self._open(addr, data))

    async def _open(self, addr: tuple[str, int], first: bytes) -> None:
        listener = self._listener
        if listener is None:
            return
        back_to: asyncio.DatagramTransport = listener

        class _Back(asyncio.DatagramProtocol):
            def datagram_received(self, data: bytes, _: tuple[str, int]) -> None:
                if not back_to.is_closing():
                    back_to.sendto(data, addr)

        loop = asyncio.get_running_loop()
        upstream, _ = await loop.create_datagram_endpoint(
            _Back, remote_addr=self._target
        )
        self._clients[addr] = upstream
        upstream.sendto(first)

    def connection_lost(self, exc: Exception | None) -> None:
        for upstream in self._clients.values():
            upstream.close()
        self._clients.clear()
