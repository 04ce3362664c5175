"""Taking over a connection after ``101 Switching Protocols``, as attach and exec do.

aiohttp keeps an upgraded connection's bytes in its own protocol object and closes
the transport when the peer half-closes. Docker clients half-close their write side
when their input ends and still read output until the process exits, so after the
101 the transport is handed to a small protocol of ours: it queues what the client
sends, keeps the connection open at end of input, and passes the loss of the
connection on to aiohttp so its handler finishes.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

from aiohttp import web

UPGRADE_HEADERS = {
    "Connection": "Upgrade",
    "Upgrade": "tcp",
    "Content-Type": "application/vnd.docker.raw-stream",
}


class Hijacked(asyncio.Protocol):
    """The raw connection: client input as an async iterator, output by ``write``."""

    def __init__(self, transport: Any, previous: Any) -> None:
        self.transport = transport
        self._previous = previous
        self._input: asyncio.Queue[bytes | None] = asyncio.Queue()
        self.closed = asyncio.Event()

    # aiohttp's parser interface, so aiohttp hands over what it already buffered.
    def feed_data(self, data: bytes) -> tuple[bool, bytes]:
        self.data_received(bytes(data))
        return False, b""

    def feed_eof(self) -> None:
        self.eof_received()

    # asyncio.Protocol
    def data_received(self, data: bytes) -> None:
        if data:
            self._input.put_nowait(data)

    def eof_received(self) -> bool:
        self._input.put_nowait(None)
        return True  # keep our side open: output continues after the client's EOF

    def connection_lost(self, exc: Exception | None) -> None:
        self._input.put_nowait(None)
        self.closed.set()
        self._previous.connection_lost(exc)

    async def chunks(self) -> AsyncIterator[bytes]:
        while True:
            data = await self._input.get()
            if data is None:
                return
            yield data

    def write(self, data: bytes) -> None:
        if not self.transport.is_closing():
            self.transport.write(data)

    async def send(self, data: bytes) -> None:
        """``write`` under the name the attach session uses for every peer."""
        self.write(data)

    def close(self) -> None:
        if not self.transport.is_closing():
            self.transport.close()


def wants_upgrade(request: web.Request) -> bool:
    connection = request.headers.get("Connection", "").lower()
    return "upgrade" in connection and bool(request.headers.get("Upgrade"))


async def hijack(request: web.Request) -> tuple[web.StreamResponse, Hijacked]:
    """Takes the connection over, then sends the 101 at once.

    The swap comes first: a client may send its input and its EOF as soon as it
    reads the 101, and aiohttp would close the connection at that EOF.
    """
    protocol = request.protocol
    transport = request.transport
    assert transport is not None
    conn = Hijacked(transport, protocol)
    protocol.set_parser(conn)  # type: ignore[arg-type]
    transport.set_protocol(conn)
    response = web.StreamResponse(status=101, headers=UPGRADE_HEADERS)
    await response.prepare(request)
    return response, conn
