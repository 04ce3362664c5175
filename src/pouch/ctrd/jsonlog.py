"""Container logs in Docker's json-file format: the writer process and the reader.

The writer runs as containerd's shim's log program. For a ``binary://`` stdio URI the
shim execs the path with each query key and value as arguments, the environment
holding only CONTAINER_ID and CONTAINER_NAMESPACE, and three extra descriptors:

    fd 3  the container's stdout (read end of a pipe)
    fd 4  the container's stderr (read end of a pipe)
    fd 5  write end of a pipe the shim blocks on until we close it: "ready"

Without a terminal the shim keeps the pipes' write ends open until the task is
deleted, then closes them and sends SIGTERM; so SIGTERM must not lose output: we
keep reading until the pipes report EOF. With a terminal the shim copies the console
to fd 3 and never writes fd 4 (its write end may never be closed), so once stdout
ends we give stderr only a short grace period.

The writer is started for every container and lives as long as it, so it imports
only the standard library and stays small.
"""

from __future__ import annotations

import json
import os
import selectors
import signal
import struct
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO
from urllib.parse import quote

if TYPE_CHECKING:
    # The reader's coroutines import asyncio when called: the writer, started for
    # every container, should not pay for importing it.
    import asyncio

STDOUT_FD = 3
STDERR_FD = 4
READY_FD = 5

# Docker splits lines longer than this into partial entries.
MAX_LINE = 16 * 1024
_READ_SIZE = 32 * 1024
# How long stderr may stay open once stdout has ended (terminal mode).
_STDERR_GRACE = 1.0
# After SIGTERM the shim has closed its ends; this bounds a stuck drain.
_TERM_DEADLINE = 10.0
_FOLLOW_POLL = 0.1
_STREAM_IDS = {"stdin": 0, "stdout": 1, "stderr": 2}


def binary_log_uri(pouchd_path: str | Path, log_path: str | Path) -> str:
    """Return the stdio URI that makes the shim run ``pouchd json-file <log_path>``."""
    exe = os.path.abspath(pouchd_path)
    log = os.path.abspath(log_path)
    return f"binary://{quote(exe)}?json-file={quote(log, safe='/')}"


# ---------------------------------------------------------------------------------
# writer


def rfc3339nano(ns: int, *, fixed: bool = False) -> str:
    """Format nanoseconds since the epoch in UTC as Go does.

    json-file lines use RFC3339Nano (trailing zeros dropped); ``docker logs -t``
    shows the fixed nine-digit form.
    """
    seconds, frac = divmod(ns, 1_000_000_000)
    base = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds))
    digits = f"{frac:09d}" if fixed else f"{frac:09d}".rstrip("0")
    return f"{base}.{digits}Z" if digits else f"{base}Z"


class _LineWriter:
    """Turns chunks of one stream into json-file lines in the shared output file."""

    def __init__(self, stream: str, out: _Output) -> None:
        self.stream = stream
        self.out = out
        self.pending = b""

    def feed(self, data: bytes) -> None:
        """Write each complete line, and lines over MAX_LINE in MAX_LINE pieces."""
        self.pending += data
        while self.pending:
            nl = self.pending.find(b"\n", 0, MAX_LINE)
            if nl >= 0:
                cut = nl + 1
            elif len(self.pending) >= MAX_LINE:
                cut = MAX_LINE
            else:
                break
            self.out.write(self.stream, self.pending[:cut])
            self.pending = self.pending[cut:]

    def close(self) -> None:
        if self.pending:
            self.out.write(self.stream, self.pending)
            self.pending = b""


class _Output:
    """The log file: one JSON object per line, flushed at once for followers."""

    def __init__(self, path: str) -> None:
        os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
        self.file = open(path, "ab", buffering=0)  # noqa: SIM115 - lives with us

    def write(self, stream: str, data: bytes) -> None:
        entry = {
            "log": data.decode("utf-8", "replace"),
            "stream": stream,
            "time": rfc3339nano(time.time_ns()),
        }
        line = json.dumps(entry, ensure_ascii=False, separators=(",", ":"))
        self.file.write(line.encode() + b"\n")


def run_logger(argv: list[str]) -> int:
    """Entry point of ``pouchd json-file <path>``: copy fds 3 and 4 into <path>."""
    if len(argv) != 1:
        os.write(2, b"usage: pouchd json-file <log path>\n")
        return 2
    out = _Output(argv[0])
    terminated: list[float] = []
    signal.signal(signal.SIGTERM, lambda *_: terminated.append(time.monotonic()))
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _signal_ready()
    _copy_streams(out, terminated)
    return 0


def _signal_ready() -> None:
    """Close fd 5: the shim waits for its EOF before starting the container."""
    try:
        os.close(READY_FD)
    except OSError:
        pass


def _copy_streams(out: _Output, terminated: list[float]) -> None:
    """Read both pipes until EOF (or the grace and deadline rules) and write lines."""
    sel = selectors.DefaultSelector()
    writers = {}
    for fd, stream in ((STDOUT_FD, "stdout"), (STDERR_FD, "stderr")):
        try:
            os.set_blocking(fd, False)
            sel.register(fd, selectors.EVENT_READ)
        except (OSError, ValueError):
            continue
        writers[fd] = _LineWriter(stream, out)
    stdout_ended: float | None = None if STDOUT_FD in writers else time.monotonic()

    while sel.get_map():
        for key, _ in sel.select(timeout=0.25):
            fd = int(key.fd)
            if not _read_once(fd, writers[fd]):
                sel.unregister(fd)
                if fd == STDOUT_FD:
                    stdout_ended = time.monotonic()
        now = time.monotonic()
        if stdout_ended is not None and now - stdout_ended > _STDERR_GRACE:
            break
        if terminated and now - terminated[0] > _TERM_DEADLINE:
            break
    for writer in writers.values():
        writer.close()


def _read_once(fd: int, writer: _LineWriter) -> bool:
    """Read what is there; False at EOF or on a broken descriptor."""
    try:
        data = os.read(fd, _READ_SIZE)
    except BlockingIOError:
        return True
    except OSError:
        data = b""
    if not data:
        writer.close()
        return False
    writer.feed(data)
    return True


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
