"""Container logs in Docker's json-file format: reading them back, following them,
and the URI that makes containerd's shim start our writer (``logwriter``) for a task.

A rotated log is ``file.N`` (oldest) ... ``file.1``, then ``file``: a reader takes
them in that order, and a follower goes on to the new ``file`` when the writer
rotates the one it reads (renamed away, or emptied when only one is kept).
"""

from __future__ import annotations

import contextlib
import json
import os
import struct
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO
from urllib.parse import quote

from pouch.ctrd.logwriter import MAX_LINE, log_argument, rfc3339nano

if TYPE_CHECKING:
    import asyncio

__all__ = [
    "MAX_LINE",
    "LogEntry",
    "binary_log_uri",
    "frame",
    "log_argument",
    "log_files",
    "read_logs",
]

_READ_SIZE = 32 * 1024
_FOLLOW_POLL = 0.1
_STREAM_IDS = {"stdin": 0, "stdout": 1, "stderr": 2}


def binary_log_uri(
    pouchd_path: str | Path,
    log_path: str | Path,
    max_size: int = -1,
    max_files: int = 1,
) -> str:
    """Return the stdio URI that makes the shim run ``pouchd json-file <log_path>``,
    rotating at ``max_size`` bytes over ``max_files`` files if ``max_size`` > 0."""
    exe = os.path.abspath(pouchd_path)
    argument = log_argument(os.path.abspath(log_path), max_size, max_files)
    return f"binary://{quote(exe)}?json-file={quote(argument, safe='/')}"


def log_files(path: str | Path) -> list[Path]:
    """The log's files, oldest first: its rotated ones by number, then itself."""
    path = Path(path)
    rotated: list[tuple[int, Path]] = []
    if path.parent.is_dir():
        for other in path.parent.iterdir():
            number = other.name.removeprefix(path.name + ".")
            if number != other.name and number.isdigit():
                rotated.append((int(number), other))
    return [p for _, p in sorted(rotated, reverse=True)] + [path]


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

    ``tail`` counts the log's last lines (over its rotated files too) before the
    stream and time filters, as Docker's json-file reader does. With ``follow``
    new lines are yielded as they are written, across rotations, until ``stop`` is
    set and the file is drained.
    """
    filt = _Filter(stdout, stderr, since, until, timestamps)
    path = Path(path)
    if not await _wait_exists(path, follow, stop):
        return
    opened = _open_all(path)
    if not opened:
        return
    try:
        await _seek_tail(opened, tail)
        for older in opened[:-1]:
            async for line in _lines(older, path, False, stop):
                entry = filt.entry(line)
                if entry is not None:
                    yield entry
        async for line in _lines(opened[-1], path, follow, stop, opened):
            entry = filt.entry(line)
            if entry is not None:
                yield entry
    finally:
        for f in opened:
            f.close()


async def _seek_tail(opened: Sequence[BinaryIO], tail: int | None) -> None:
    """Each file at the first of the last ``tail`` lines of them all (at its end
    when none of its lines is wanted)."""
    import asyncio

    remaining = tail
    for f in reversed(opened):
        offset, count = await asyncio.to_thread(_tail_offset, f, remaining)
        f.seek(offset)
        if remaining is not None and remaining >= 0:
            remaining = max(remaining - count, 0)


async def _wait_exists(path: Path, follow: bool, stop: asyncio.Event | None) -> bool:
    """Wait for the log file when following: the writer may not have made it yet."""
    import asyncio

    while not path.exists():
        if not follow or (stop is not None and stop.is_set()):
            return False
        await asyncio.sleep(_FOLLOW_POLL)
    return True


async def _lines(
    f: BinaryIO,
    path: Path,
    follow: bool,
    stop: asyncio.Event | None,
    read: Sequence[BinaryIO] = (),
) -> AsyncIterator[bytes]:
    """Yield complete lines of ``f``; when following, poll for more until stopped,
    going on to the next file when the writer rotates this one (``read`` are the
    files read before ``f``)."""
    import asyncio

    chain, partial = _Chain(f, path, read), b""
    try:
        while True:
            if follow:
                chain.look()
            chunk: bytes = await asyncio.to_thread(chain.current.read, _READ_SIZE)
            if chunk:
                complete, partial = _split(partial + chunk)
                for line in complete:
                    yield line
                continue
            if not follow:
                break
            # The flag is read before the last look, so nothing written before the
            # stop is lost.
            stopping = stop is not None and stop.is_set()
            if chain.rotated():
                # The writer closed this file before it began the next: what the
                # last read did not see is there now.
                complete, partial = _split(partial + chain.current.read())
                for line in [*complete, partial]:
                    if line.strip():
                        yield line
                partial = b""
                chain.advance()
                continue
            if chain.current.tell() > os.fstat(chain.current.fileno()).st_size:
                chain.current.seek(0)  # emptied: the log keeps one file
                continue
            if stopping:
                more: bytes = await asyncio.to_thread(chain.current.read)
                if not more:
                    break
                complete, partial = _split(partial + more)
                for line in complete:
                    yield line
                continue
            await _sleep_or_stop(stop)
        if partial.strip():
            yield partial
    finally:
        chain.close()


def _split(data: bytes) -> tuple[list[bytes], bytes]:
    """The complete, non-empty lines of ``data``, and what follows the last."""
    *complete, rest = data.split(b"\n")
    return [line for line in complete if line], rest


class _Chain:
    """The file a follower reads, and those the writer began after it.

    The writer renames every file at each rotation, so names say little to a
    reader that looks now and then: a file is known by its inode and the time of
    its first line (an inode may be reused once its file is gone), and the files
    not read yet are read in the order of those times. Each new file is held open
    as soon as the follower sees it at ``path`` (it looks before every read), so
    that its lines survive it being rotated out, or removed with its container,
    before the follower gets to them; one it did not see there (the writer
    rotated twice between two looks) is found in the directory when the follower
    reaches the end of the one before it.
    """

    def __init__(self, first: BinaryIO, path: Path, read: Sequence[BinaryIO]) -> None:
        self.path = path
        self.current = first
        self._first = first  # the caller's, which it closes
        self._queued: list[BinaryIO] = []
        # The files read before ``first``, and each one the follower left.
        self._done = {_identity(f) for f in read if f is not first}

    def look(self) -> None:
        """Holds the file at ``path`` if it is a new one."""
        held = {_inode(f) for f in (self.current, *self._queued)}
        with contextlib.suppress(FileNotFoundError):
            if os.stat(self.path).st_ino not in held:
                self._hold(self.path, held)

    def rotated(self) -> bool:
        """Whether the writer has begun a file after the current one."""
        if self._queued:
            return True
        try:
            return os.stat(self.path).st_ino != _inode(self.current)
        except FileNotFoundError:
            return False  # renamed, and the next not made yet: not over yet

    def advance(self) -> None:
        """Goes on to the oldest file not read yet."""
        self._done.add(_identity(self.current))
        held = {_inode(f) for f in (self.current, *self._queued)}
        # A file renamed while the directory is read can be missed: read it
        # again until a reading finds nothing new.
        for _ in range(_SCANS):
            if not any([self._hold(name, held) for name in log_files(self.path)]):
                break
        unread = [f for f in self._queued if _identity(f) not in self._done]
        newer = sorted(unread, key=_first_time)
        for f in self._queued:
            if f not in newer:
                f.close()
        if self.current is not self._first:
            self.current.close()
        self.current = newer.pop(0) if newer else self.path.open("rb")
        self._queued = newer

    def _hold(self, name: Path, held: set[int]) -> bool:
        """Holds the file at ``name`` if it is not held yet; whether it was new."""
        try:
            f = name.open("rb")
        except FileNotFoundError:
            return False
        if _inode(f) in held:
            f.close()
            return False
        held.add(_inode(f))
        self._queued.append(f)
        return True

    def close(self) -> None:
        for f in (self.current, *self._queued):
            if f is not self._first:
                f.close()


# How often a follower reads the directory of a rotating log, at most, to find the
# files it does not hold.
_SCANS = 5
# The first-line time of a file that has no line yet: it is the newest.
_NO_LINE_YET = 2**63


def _first_time(f: BinaryIO) -> int:
    """When the file's first line was written (epoch ns), read without moving
    ``f``; a file whose first line cannot be read counts as the oldest."""
    position = f.tell()
    f.seek(0)
    line = f.readline()
    f.seek(position)
    if not line.endswith(b"\n"):
        return _NO_LINE_YET
    try:
        return parse_time_ns(json.loads(line)["time"])
    except (ValueError, KeyError, TypeError):
        return -1


def _identity(f: BinaryIO) -> tuple[int, int]:
    return _inode(f), _first_time(f)


def _open_all(path: Path) -> list[BinaryIO]:
    """Every file of the log, oldest first by their first lines (their names may
    change while they are opened)."""
    opened: dict[int, BinaryIO] = {}
    for name in log_files(path):
        with contextlib.suppress(FileNotFoundError):
            f = name.open("rb")
            if _inode(f) in opened:
                f.close()
            else:
                opened[_inode(f)] = f
    return sorted(opened.values(), key=_first_time)


def _inode(f: BinaryIO) -> int:
    return os.fstat(f.fileno()).st_ino


async def _sleep_or_stop(stop: asyncio.Event | None) -> None:
    import asyncio

    if stop is None:
        await asyncio.sleep(_FOLLOW_POLL)
        return
    try:
        await asyncio.wait_for(stop.wait(), _FOLLOW_POLL)
    except TimeoutError:
        pass


def _tail_offset(f: BinaryIO, tail: int | None) -> tuple[int, int]:
    """Offset of the start of the last ``tail`` lines (0 for all of them), and
    how many lines that is: fewer than ``tail`` when the file holds fewer."""
    end = f.seek(0, os.SEEK_END)
    if tail is None or tail < 0:
        return 0, 0
    if tail == 0:
        return end, 0
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
                    return pos + i + 1, seen
    return 0, seen + 1 if end else 0
