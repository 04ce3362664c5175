"""Container logs in Docker's json-file format: reading them back, following them,
and the URI that makes containerd's shim start our writer (``logwriter``) for a task.
"""

from __future__ import annotations

import json
import os
import struct
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO
from urllib.parse import quote

from pouch.ctrd.logwriter import MAX_LINE, rfc3339nano

if TYPE_CHECKING:
    import asyncio

__all__ = ["MAX_LINE", "LogEntry", "binary_log_uri", "frame", "read_logs"]

_READ_SIZE = 32 * 1024
_FOLLOW_POLL = 0.1
_STREAM_IDS = {"stdin": 0, "stdout": 1, "stderr": 2}


def binary_log_uri(pouchd_path: str | Path, log_path: str | Path) -> str:
    """Return the stdio URI that makes the shim run ``pouchd json-file <log_path>``."""
    exe = os.path.abspath(pouchd_path)
    log = os.path.abspath(log_path)
    return f"binary://{quote(exe)}?json-file={quote(log, safe='/')}"


# ---------------------------------------------------------------------------------
# reader


@dataclass(frozen=True)
class LogEntry:
    """One line of a container's output: ``time`` is seconds since the epoch."""

    stream: str
    data: bytes
    time: float


def frame(stream: str | int, data: bytes) -> bytes:
    """Wrap ``data`` in Docker's multiplexed-stream header (stream, 0, 0, 0, size)."""
    sid = _STREAM_IDS[stream] if isinstance(stream, str) else stream
    return struct.pack(">BxxxI", sid, len(data)) + data


def parse_time_ns(text: str) -> int:
    """Parse an RFC3339 timestamp with up to nine fraction digits to epoch ns."""
    main, frac = text, ""
    if "." in text:
        main, rest = text.split(".", 1)
        digits = len(rest) - len(rest.lstrip("0123456789"))
        frac, zone = rest[:digits], rest[digits:]
        main += zone
    parsed = datetime.fromisoformat(main.replace("Z", "+00:00"))
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    nanos = int(frac[:9].ljust(9, "0")) if frac else 0
    return int(parsed.timestamp()) * 1_000_000_000 + nanos


@dataclass(frozen=True)
class _Filter:
    stdout: bool
    stderr: bool
    since: float
    until: float
    timestamps: bool

    def entry(self, line: bytes) -> LogEntry | None:
        """Decode one file line; None if it is filtered out or unreadable."""
        try:
            raw = json.loads(line)
            stream, stamp = raw["stream"], raw["time"]
            data = raw["log"].encode()
            ns = parse_time_ns(stamp)
        except (ValueError, KeyError, TypeError, AttributeError):
            return None
        if (stream == "stdout" and not self.stdout) or (
            stream == "stderr" and not self.stderr
        ):
            return None
        when = ns / 1e9
        if self.since and when < self.since:
            return None
        if self.until and when > self.until:
            return None
        if self.timestamps:
            data = rfc3339nano(ns, fixed=True).encode() + b" " + data
        return LogEntry(stream, data, when)


async def read_logs(
    path: str | Path,
    *,
    follow: bool,
    tail: int | None = None,
    stdout: bool = True,
    stderr: bool = True,
    since: float = 0,
    until: float = 0,
    timestamps: bool = False,
    stop: asyncio.Event | None = None,
) -> AsyncIterator[LogEntry]:
    """Yield a container's log entries, as ``docker logs`` shows them.

    ``tail`` counts the file's last lines before the stream and time filters, as
    Docker's json-file reader does. With ``follow`` new lines are yielded as they
    are written until ``stop`` is set and the file is drained.
    """
    import asyncio

    filt = _Filter(stdout, stderr, since, until, timestamps)
    path = Path(path)
    if not await _wait_exists(path, follow, stop):
        return
    with path.open("rb") as f:
        start = await asyncio.to_thread(_tail_offset, f, tail)
        f.seek(start)
        async for line in _lines(f, follow, stop):
            entry = filt.entry(line)
            if entry is not None:
                yield entry


async def _wait_exists(path: Path, follow: bool, stop: asyncio.Event | None) -> bool:
    """Wait for the log file when following: the writer may not have made it yet."""
    import asyncio

    while not path.exists():
        if not follow or (stop is not None and stop.is_set()):
            return False
        await asyncio.sleep(_FOLLOW_POLL)
    return True


async def _lines(
    f: BinaryIO, follow: bool, stop: asyncio.Event | None
) -> AsyncIterator[bytes]:
    """Yield complete lines; when following, poll for more until stopped."""
    import asyncio

    reader = f.read
    partial = b""
    while True:
        chunk: bytes = await asyncio.to_thread(reader, _READ_SIZE)
        if chunk:
            partial += chunk
            *complete, partial = partial.split(b"\n")
            for line in complete:
                if line:
                    yield line
            continue
        if not follow:
            break
        # Check the flag before the final read so nothing written before stop is lost.
        stopping = stop is not None and stop.is_set()
        if stopping:
            tail_chunk: bytes = await asyncio.to_thread(reader)
            if not tail_chunk:
                break
            partial += tail_chunk
            continue
        await _sleep_or_stop(stop)
    if partial.strip():
        yield partial


async def _sleep_or_stop(stop: asyncio.Event | None) -> None:
    import asyncio

    if stop is None:
        await asyncio.sleep(_FOLLOW_POLL)
        return
    try:
        await asyncio.wait_for(stop.wait(), _FOLLOW_POLL)
    except TimeoutError:
        pass


def _tail_offset(f: BinaryIO, tail: int | None) -> int:
    """Offset of the start of the last ``tail`` lines (0 for all of them)."""
    end = f.seek(0, os.SEEK_END)
    if tail is None or tail < 0:
        return 0
    if tail == 0:
        return end
    pos, seen = end, 0
    while pos > 0:
        size = min(64 * 1024, pos)
        pos -= size
        f.seek(pos)
        data = f.read(size)
        # A newline before the file's last byte starts one of the lines we want.
        for i in range(len(data) - 1, -1, -1):
            if data[i] == 0x0A and pos + i + 1 < end:
                seen += 1
                if seen == tail:
                    return pos + i + 1
    return 0
