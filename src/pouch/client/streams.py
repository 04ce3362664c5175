"""Reading streamed bodies: raw chunks, Docker's multiplexed frames, JSON messages.

Without a TTY the daemon interleaves stdout and stderr on one body by prefixing each
piece with an 8-byte header: the stream number (1 stdout, 2 stderr, 0 stdin), three
zero bytes, then the payload length as a big-endian uint32. Chunk boundaries of the
HTTP body do not line up with frames, so the demultiplexer keeps a buffer and yields
only whole frames.
"""

import io
import json
from collections.abc import Generator, Iterable, Iterator
from typing import Any

STDIN, STDOUT, STDERR = 0, 1, 2
HEADER_SIZE = 8
_CHUNK = 64 * 1024


def iter_chunks(body: io.BufferedIOBase, size: int = _CHUNK) -> Iterator[bytes]:
    """Yield what has arrived so far, as it arrives, until the body ends.

    ``read1`` returns as soon as some bytes are there, where ``read(n)`` would wait
    for ``n`` of them: a followed log shows each line when it is written.
    """
    while True:
        chunk = body.read1(size)
        if not chunk:
            return
        yield chunk


def encode_frame(stream: int, payload: bytes) -> bytes:
    """One frame as the daemon writes it (used by tests and fakes)."""
    return bytes([stream, 0, 0, 0]) + len(payload).to_bytes(4, "big") + payload


class FrameDemuxer:
    """Split a multiplexed byte stream into ``(stream, payload)`` frames."""

    def __init__(self) -> None:
        self._buffer = bytearray()

    def feed(self, data: bytes) -> list[tuple[int, bytes]]:
        """Add bytes; return every frame now complete, in order."""
        self._buffer += data
        frames = []
        while len(self._buffer) >= HEADER_SIZE:
            length = int.from_bytes(self._buffer[4:HEADER_SIZE], "big")
            end = HEADER_SIZE + length
            if len(self._buffer) < end:
                break
            frames.append((self._buffer[0], bytes(self._buffer[HEADER_SIZE:end])))
            del self._buffer[:end]
        return frames

    @property
    def pending(self) -> int:
        """Bytes of an unfinished frame; non-zero at the end means a cut stream."""
        return len(self._buffer)


def demux(chunks: Iterable[bytes]) -> Iterator[tuple[int, bytes]]:
    """Frames of a multiplexed body, given its chunks."""
    demuxer = FrameDemuxer()
    for chunk in chunks:
        yield from demuxer.feed(chunk)


def iter_json_messages(chunks: Iterable[bytes]) -> Iterator[Any]:
    """Decode a body of concatenated JSON documents (newline-separated or not)."""
    decoder = json.JSONDecoder()
    text = ""
    for chunk in chunks:
        text += chunk.decode("utf-8", errors="replace")
        text = yield from _drain_json(decoder, text)
    if text.strip():
        raise ValueError(f"truncated JSON message at end of stream: {text[:80]!r}")


def _drain_json(decoder: json.JSONDecoder, text: str) -> Generator[Any, None, str]:
    """Yield the whole documents at the start of ``text``; return the rest."""
    position = 0
    while True:
        while position < len(text) and text[position].isspace():
            position += 1
        if position == len(text):
            return ""
        try:
            message, position = decoder.raw_decode(text, position)
        except json.JSONDecodeError:
            return text[position:]
        yield message
