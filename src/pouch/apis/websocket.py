"""A websocket as the client's end of an attach session, beside ``hijack.py``'s raw
connection: the same three things, input, output and the client going away.

Each message the client sends is input, whichever kind of frame carries it; output
goes out one frame per chunk, of the kind the route chooses. The websocket has no
half-close: the client's close frame ends its input and the session with it.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from aiohttp import WSMsgType, web


class WebSocketPeer:
    """Client messages as an async iterator of bytes, output by ``send``."""

    def __init__(self, ws: web.WebSocketResponse, opcode: WSMsgType) -> None:
        self._ws = ws
        self._opcode = opcode
        self.closed = asyncio.Event()

    async def chunks(self) -> AsyncIterator[bytes]:
        try:
            async for message in self._ws:
                if message.type in (WSMsgType.BINARY, WSMsgType.TEXT):
                    yield _as_bytes(message.data)
        finally:
            self.closed.set()

    async def send(self, data: bytes) -> None:
        if self._ws.closed:
            return
        with contextlib.suppress(ConnectionError):
            await self._ws.send_frame(data, self._opcode)

    async def close(self) -> None:
        with contextlib.suppress(ConnectionError):
            await self._ws.close()


def _as_bytes(data: str | bytes) -> bytes:
    return data.encode() if isinstance(data, str) else data
