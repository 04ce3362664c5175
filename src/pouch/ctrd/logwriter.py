"""The json-file log writer: the program containerd's shim starts per container.

For a ``binary://`` stdio URI the shim execs the path with each query key and value
as arguments, the environment holding only CONTAINER_ID and CONTAINER_NAMESPACE, and
three extra descriptors:

    fd 3  the container's stdout (read end of a pipe)
    fd 4  the container's stderr (read end of a pipe)
    fd 5  write end of a pipe the shim blocks on until we close it: "ready"

Without a terminal the shim keeps the pipes' write ends open until the task is
deleted, then closes them and sends SIGTERM; so SIGTERM must not lose output: we
keep reading until the pipes report EOF. With a terminal the shim copies the console
to fd 3 and never writes fd 4 (its write end may never be closed), so once stdout
ends we give stderr only a short grace period.

The shim passes a single query value, and in Go's map order when there are more, so
the program takes one argument: the log's path, or a JSON object holding the path and
the rotation limits (``log_argument``). With ``max-size`` the log rotates as
dockerd's json-file driver rotates it: once the file has reached the size, before
the next line, ``file.1`` becomes ``file.2`` and so on (the oldest beyond
``max-file`` goes), the file becomes ``file.1`` and a new one is begun; with one
file it is emptied instead.

The shim waits for this program before it starts the container, and one lives beside
every container, so it imports only a few standard modules (the reader is in
``jsonlog``).
"""

from __future__ import annotations

import json
import os
import selectors
import signal
import time

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
# How long a partial line waits for the rest of it before it is written as it is.
_PARTIAL_IDLE = 0.05


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


def log_argument(path: str, max_size: int = -1, max_files: int = 1) -> str:
    """The program's one argument: the path alone when the log does not rotate."""
    if max_size <= 0:
        return path
    return json.dumps({"path": path, "max-size": max_size, "max-file": max_files})


def parse_argument(text: str) -> tuple[str, int, int]:
    """(path, max size or -1, max files) from ``log_argument``'s text; paths are
    absolute, so a ``{`` starts the JSON form."""
    if not text.startswith("{"):
        return text, -1, 1
    doc = json.loads(text)
    return str(doc["path"]), int(doc["max-size"]), max(int(doc["max-file"]), 1)


class _Output:
    """The log file: one JSON object per line, flushed at once for followers."""

    def __init__(self, path: str, max_size: int = -1, max_files: int = 1) -> None:
        os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
        self.path = path
        self.max_size = max_size
        self.max_files = max_files
        self.file = open(path, "ab", buffering=0)  # noqa: SIM115 - lives with us
        self.size = os.fstat(self.file.fileno()).st_size

    def write(self, stream: str, data: bytes) -> None:
        entry = {
            "log": data.decode("utf-8", "replace"),
            "stream": stream,
            "time": rfc3339nano(time.time_ns()),
        }
        line = json.dumps(entry, ensure_ascii=False, separators=(",", ":"))
        if 0 < self.max_size <= self.size:
            self._rotate()
        encoded = line.encode() + b"\n"
        self.file.write(encoded)
        self.size += len(encoded)

    def _rotate(self) -> None:
        self.file.close()
        for n in range(self.max_files - 1, 1, -1):
            older = f"{self.path}.{n - 1}"
            if os.path.exists(older):
                os.replace(older, f"{self.path}.{n}")
        if self.max_files > 1:
            os.replace(self.path, f"{self.path}.1")
        self.file = open(self.path, "wb", buffering=0)  # noqa: SIM115
        self.size = 0


def run_logger(argv: list[str]) -> int:
    """Entry point of ``pouchd json-file <path or JSON>``: copy fds 3 and 4 into
    the log (see ``log_argument``)."""
    if len(argv) != 1:
        os.write(2, b"usage: pouchd json-file <log path>\n")
        return 2
    try:
        path, max_size, max_files = parse_argument(argv[0])
    except (ValueError, KeyError, TypeError):
        os.write(2, b"pouchd json-file: a path, or JSON with path and limits\n")
        return 2
    out = _Output(path, max_size, max_files)
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
        pending = any(w.pending for w in writers.values())
        ready = sel.select(timeout=_PARTIAL_IDLE if pending else 0.25)
        if not ready and pending:
            # A line without its newline (a shell's prompt) is written once the
            # stream goes quiet, so that attached clients see it.
            for writer in writers.values():
                writer.close()
        for key, _ in ready:
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
