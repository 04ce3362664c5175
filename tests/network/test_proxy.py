"""The daemon's port listeners copy TCP streams and UDP datagrams to a target; here
the target is an echo server on loopback standing in for a container."""

import asyncio
import socket

from pouch.network import ports
from pouch.network.models import PortRecord, PortRequest


class _UdpEcho(asyncio.DatagramProtocol):
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        self.transport.sendto(b"echo " + data, addr)  # type: ignore[attr-defined]


async def _tcp_echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    data = await reader.read()  # until the client half-closes
    writer.write(b"echo " + data)
    await writer.drain()
    writer.close()


def _record(proto: str, host_port: int, target_port: int) -> PortRecord:
    return PortRecord(
        "c1", proto, "127.0.0.1", host_port, "127.0.0.1", target_port, "x"
    )


def test_udp_and_tcp_are_copied_both_ways() -> None:
    async def scenario() -> tuple[bytes, bytes]:
        loop = asyncio.get_running_loop()
        udp_echo, _ = await loop.create_datagram_endpoint(
            _UdpEcho, local_addr=("127.0.0.1", 0)
        )
        tcp_echo = await asyncio.start_server(_tcp_echo, "127.0.0.1", 0)
        udp_target = udp_echo.get_extra_info("sockname")[1]
        tcp_target = tcp_echo.sockets[0].getsockname()[1]

        udp_sock = ports.bind(PortRequest("udp", udp_target, "127.0.0.1"))
        tcp_sock = ports.bind(PortRequest("tcp", tcp_target, "127.0.0.1"))
        udp_port, tcp_port = udp_sock.getsockname()[1], tcp_sock.getsockname()[1]
        proxies = ports.Proxies()
        await proxies.start("c1", [
            (udp_sock, _record("udp", udp_port, udp_target)),
            (tcp_sock, _record("tcp", tcp_port, tcp_target)),
        ])  # fmt: skip
        try:
            client = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            client.setblocking(False)
            client.sendto(b"ping", ("127.0.0.1", udp_port))
            udp_reply = await asyncio.wait_for(loop.sock_recv(client, 100), 5)
            client.close()

            reader, writer = await asyncio.open_connection("127.0.0.1", tcp_port)
            writer.write(b"hello")
            writer.write_eof()
            tcp_reply = await asyncio.wait_for(reader.read(), 5)
            writer.close()
        finally:
            proxies.stop("c1")
            udp_echo.close()
            tcp_echo.close()
        # Stopped: the host port is free again.
        ports.bind(PortRequest("tcp", 1, "127.0.0.1", tcp_port)).close()
        return udp_reply, tcp_reply

    assert asyncio.run(scenario()) == (b"echo ping", b"echo hello")
