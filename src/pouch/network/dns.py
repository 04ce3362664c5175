"""The embedded DNS server: one per container on a user-defined network.

The problem: containers on a user-defined network find each other by name, and the
names change as containers come and go, so no file written at start can hold them.
Docker answers from a resolver inside each container's namespace at 127.0.0.11.

The obvious way is a process per container, entered into its namespace. Instead the
daemon makes a UDP and a TCP socket inside the namespace (from a short-lived thread
that enters it, see ``links.sockets_in_netns``) and serves them from its own event
loop: a socket stays in the namespace it was made in. Queries for names the daemon
knows are answered from the network state at the time of the query; the rest go to
the container's own upstreams (``--dns``), or else the host's resolvers, from the
host's namespace, so even a resolver on the host's loopback (127.0.0.53) works.
"""

import asyncio
import contextlib
import logging
import socket
import struct
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import cast

from dnslib import QTYPE, RCODE, RR, A, DNSRecord

from pouch.network import links

log = logging.getLogger("pouch.network")

ADDRESS = "127.0.0.11"
PORT = 53
TTL = 600
FORWARD_TIMEOUT = 3.0
HOST_RESOLV = Path("/etc/resolv.conf")

# (container id, name asked) -> the addresses it has for that container, if any.
Lookup = Callable[[str, str], list[str] | None]


def host_nameservers(path: Path = HOST_RESOLV) -> list[str]:
    if not path.exists():
        return []
    found = []
    for line in path.read_text().splitlines():
        words = line.split()
        if words[:1] == ["nameserver"] and len(words) > 1:
            found.append(words[1])
    return found


def answer(query: DNSRecord, addresses: list[str]) -> DNSRecord:
    """The reply for a name we know: its A records; an empty answer for other
    types, so the client does not go on to ask elsewhere."""
    reply = query.reply()
    if query.q.qtype in (QTYPE.A, QTYPE.ANY):
        for address in addresses:
            reply.add_answer(RR(query.q.qname, QTYPE.A, rdata=A(address), ttl=TTL))
    return reply


@dataclass
class _Server:
    container_id: str
    # The servers the container asked for; empty for the host's.
    upstreams: list[str] = field(default_factory=list)
    transports: list[asyncio.BaseTransport] = field(default_factory=list)
    tcp: asyncio.AbstractServer | None = None

    def close(self) -> None:
        for transport in self.transports:
            transport.close()
        if self.tcp is not None:
            self.tcp.close()


class DnsService:
    """Every embedded server of the daemon, by container."""

    def __init__(self, lookup: Lookup, resolv: Path = HOST_RESOLV) -> None:
        self._lookup = lookup
        self._resolv = resolv
        self._servers: dict[str, _Server] = {}

    def serving(self, container_id: str) -> bool:
        return container_id in self._servers

    async def serve(
        self, container_id: str, pid: int, upstreams: list[str] | None = None
    ) -> None:
        """Serve 127.0.0.11:53 (UDP and TCP) inside the namespace of ``pid``,
        forwarding to ``upstreams`` (the host's resolvers if none)."""
        if container_id in self._servers:
            return
        udp, tcp = await asyncio.to_thread(links.sockets_in_netns, pid, _bind_pair)
        server = _Server(container_id, list(upstreams or []))
        try:
            loop = asyncio.get_running_loop()
            transport, _ = await loop.create_datagram_endpoint(
                lambda: _UdpProtocol(self, container_id), sock=udp
            )
            server.transports.append(transport)
            server.tcp = await asyncio.start_server(
                lambda r, w: self._serve_tcp(container_id, r, w), sock=tcp
            )
        except BaseException:
            server.close()
            udp.close()
            tcp.close()
            raise
        self._servers[container_id] = server
        log.info("dns for container %s on %s:%d", container_id[:12], ADDRESS, PORT)

    def stop(self, container_id: str) -> None:
        server = self._servers.pop(container_id, None)
        if server is not None:
            server.close()
            log.debug("dns for container %s stopped", container_id[:12])

    def close(self) -> None:
        for container_id in list(self._servers):
            self.stop(container_id)

    async def resolve(self, container_id: str, packet: bytes) -> bytes | None:
        """The reply to one query packet; ``None`` drops a packet we cannot parse."""
        try:
            query = DNSRecord.parse(packet)
        except Exception:
            return None
        name = str(query.q.qname).rstrip(".").lower()
        addresses = self._lookup(container_id, name)
        if addresses:
            return bytes(answer(query, addresses).pack())
        return await self._forward(self.upstreams(container_id), query, packet)

    def upstreams(self, container_id: str) -> list[str]:
        """Where the container's other queries go: its own servers, or the host's."""
        server = self._servers.get(container_id)
        if server is not None and server.upstreams:
            return server.upstreams
        return host_nameservers(self._resolv)

    async def _forward(
        self, upstreams: list[str], query: DNSRecord, packet: bytes
    ) -> bytes:
        for upstream in upstreams:
            with contextlib.suppress(OSError, TimeoutError):
                return await _ask_udp(upstream, packet)
        reply = query.reply()
        reply.header.rcode = RCODE.SERVFAIL
        return bytes(reply.pack())

    async def _serve_tcp(
        self,
        container_id: str,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
    ) -> None:
        with contextlib.suppress(asyncio.IncompleteReadError, OSError):
            while True:
                (size,) = struct.unpack("!H", await reader.readexactly(2))
                reply = await self.resolve(container_id, await reader.readexactly(size))
                if reply is None:
                    break
                writer.write(struct.pack("!H", len(reply)) + reply)
                await writer.drain()
        writer.close()


def _bind_pair() -> list[socket.socket]:
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        udp.bind((ADDRESS, PORT))
        tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        tcp.bind((ADDRESS, PORT))
        tcp.listen(64)
    except BaseException:
        udp.close()
        tcp.close()
        raise
    return [udp, tcp]


class _UdpProtocol(asyncio.DatagramProtocol):
    def __init__(self, service: DnsService, container_id: str) -> None:
        self._service = service
        self._container_id = container_id
        self._transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # The loop's datagram transports do not all derive from DatagramTransport.
        self._transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        asyncio.get_running_loop().create_task(self._reply(data, addr))

    async def _reply(self, data: bytes, addr: tuple[str, int]) -> None:
        reply = await self._service.resolve(self._container_id, data)
        if reply is not None and self._transport is not None:
            if not self._transport.is_closing():
                self._transport.sendto(reply, addr)


async def _ask_udp(server: str, packet: bytes) -> bytes:
    """Send one query to ``server`` from the host's namespace; its reply."""
    loop = asyncio.get_running_loop()
    done: asyncio.Future[bytes] = loop.create_future()

    class _Once(asyncio.DatagramProtocol):
        def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
            if not done.done():
                done.set_result(data)

        def error_received(self, exc: Exception) -> None:
            if not done.done():
                done.set_exception(exc)

    transport, _ = await loop.create_datagram_endpoint(
        _Once, remote_addr=(server, PORT)
    )
    try:
        transport.sendto(packet)
        return await asyncio.wait_for(done, FORWARD_TIMEOUT)
    finally:
        transport.close()
