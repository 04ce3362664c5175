"""The json-file log writer (as the shim runs it) and reader."""

from __future__ import annotations

import asyncio
import fcntl
import json
import os
import signal
import subprocess
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import pytest

from pouch.ctrd.jsonlog import (
    MAX_LINE,
    LogEntry,
    binary_log_uri,
    frame,
    log_argument,
    parse_time_ns,
    read_logs,
    rfc3339nano,
)

from .conftest import POUCHD


@dataclass
class Logger:
    """A ``pouchd json-file`` process wired up as containerd's shim does it."""

    proc: subprocess.Popen[bytes]
    stdout: int
    stderr: int
    path: Path

    def lines(self) -> list[dict[str, str]]:
        return [json.loads(line) for line in self.path.read_text().splitlines()]


@pytest.fixture
def logger(tmp_path: Path) -> Iterator[Logger]:
    path = tmp_path / "c1" / "json.log"
    made = start_logger(path, str(path))
    yield made
    stop_logger(made)


@pytest.fixture
def rotating_logger(tmp_path: Path) -> Iterator[Logger]:
    """Rotating at 300 bytes over three files."""
    path = tmp_path / "c1" / "json.log"
    made = start_logger(path, log_argument(str(path), 300, 3))
    yield made
    stop_logger(made)


def start_logger(path: Path, argument: str) -> Logger:
    out_r, out_w = os.pipe()
    err_r, err_w = os.pipe()
    ready_r, ready_w = os.pipe()

    def wire() -> None:
        # Move the ends out of the way first: one may already be 3, 4 or 5.
        high = [fcntl.fcntl(fd, fcntl.F_DUPFD, 10) for fd in (out_r, err_r, ready_w)]
        for fd, target in zip(high, (3, 4, 5), strict=True):
            os.dup2(fd, target)

    proc = subprocess.Popen(
        [str(POUCHD), "json-file", argument],
        preexec_fn=wire,
        pass_fds=(3, 4, 5),  # kept open past preexec_fn, which dup2s onto them
        env={"CONTAINER_ID": "c1", "CONTAINER_NAMESPACE": "test"},
    )
    for fd in (out_r, err_r, ready_w):
        os.close(fd)
    # The shim waits for EOF on the ready pipe before it starts the container.
    assert os.read(ready_r, 1) == b""
    os.close(ready_r)
    return Logger(proc, out_w, err_w, path)


def stop_logger(made: Logger) -> None:
    for fd in (made.stdout, made.stderr):
        try:
            os.close(fd)
        except OSError:
            pass
    if made.proc.poll() is None:
        made.proc.kill()
    made.proc.wait()


def test_logger_writes_json_lines(logger: Logger) -> None:
    os.write(logger.stdout, b"hello\nwor")
    os.write(logger.stderr, b"oops\n")
    os.write(logger.stdout, b"ld\nlast")
    os.close(logger.stdout)
    os.close(logger.stderr)
    assert logger.proc.wait(10) == 0

    lines = logger.lines()
    by_stream = {
        s: [e["log"] for e in lines if e["stream"] == s] for s in ("stdout", "stderr")
    }
    assert by_stream == {"stdout": ["hello\n", "world\n", "last"], "stderr": ["oops\n"]}
    for entry in lines:
        assert set(entry) == {"log", "stream", "time"}
        assert abs(parse_time_ns(entry["time"]) / 1e9 - time.time()) < 60


def test_logger_splits_long_lines(logger: Logger) -> None:
    os.write(logger.stdout, b"x" * (MAX_LINE + 10) + b"\n")
    os.close(logger.stdout)
    os.close(logger.stderr)
    assert logger.proc.wait(10) == 0
    assert [len(e["log"]) for e in logger.lines()] == [MAX_LINE, 11]


def test_logger_drains_after_sigterm(logger: Logger) -> None:
    """The shim closes the pipes and sends SIGTERM at once: nothing may be lost."""
    os.write(logger.stdout, b"before\n")
    logger.proc.send_signal(signal.SIGTERM)
    time.sleep(0.2)
    os.write(logger.stdout, b"after\n")
    os.close(logger.stdout)
    os.close(logger.stderr)
    assert logger.proc.wait(10) == 0
    assert [e["log"] for e in logger.lines()] == ["before\n", "after\n"]


def test_logger_terminal_mode_ends_with_stdout(logger: Logger) -> None:
    """With a TTY the shim never closes the stderr pipe's write end."""
    os.write(logger.stdout, b"tty\r\n")
    os.close(logger.stdout)
    assert logger.proc.wait(10) == 0
    assert [e["log"] for e in logger.lines()] == ["tty\r\n"]


def test_logger_usage() -> None:
    done = subprocess.run([str(POUCHD), "json-file"], capture_output=True)
    assert done.returncode == 2
    assert b"usage" in done.stderr


def test_binary_log_uri() -> None:
    uri = binary_log_uri("/usr/bin/pouchd", "/var/lib/pouch/containers/a b/json.log")
    assert (
        uri
        == "binary:///usr/bin/pouchd?json-file=/var/lib/pouch/containers/a%20b/json.log"
    )
    # With rotation the one query value carries a JSON object.
    uri = binary_log_uri("/usr/bin/pouchd", "/l/json.log", 1000, 3)
    value = unquote(uri.split("?json-file=", 1)[1])
    assert json.loads(value) == {"path": "/l/json.log", "max-size": 1000, "max-file": 3}


def test_logger_rotates_as_dockerd(rotating_logger: Logger) -> None:
    """At 300 bytes, before the next line: json.log -> .1 -> .2; .3 never."""
    for n in range(40):
        os.write(rotating_logger.stdout, f"line {n:02d}\n".encode())
        time.sleep(0.002)
    os.close(rotating_logger.stdout)
    os.close(rotating_logger.stderr)
    assert rotating_logger.proc.wait(10) == 0

    path = rotating_logger.path
    names = sorted(p.name for p in path.parent.iterdir())
    assert names == ["json.log", "json.log.1", "json.log.2"]
    kept = []
    for name in ("json.log.2", "json.log.1", "json.log"):
        text = (path.parent / name).read_text()
        if name != "json.log":
            assert 300 <= len(text) < 300 + 80
        kept += [json.loads(line)["log"] for line in text.splitlines()]
    assert kept == [f"line {n:02d}\n" for n in range(40 - len(kept), 40)]
    entries = collect(path, follow=False)
    assert [e.data.decode() for e in entries] == kept
    assert [e.data.decode() for e in collect(path, follow=False, tail=7)] == kept[-7:]


def test_frame() -> None:
    assert frame("stdout", b"hi") == b"\x01\x00\x00\x00\x00\x00\x00\x02hi"
    assert frame("stderr", b"") == b"\x02\x00\x00\x00\x00\x00\x00\x00"
    assert frame(1, b"x" * 300)[4:8] == (300).to_bytes(4, "big")


def test_time_format_round_trip() -> None:
    ns = 1704067200_123456789
    assert rfc3339nano(ns) == "2024-01-01T00:00:00.123456789Z"
    assert rfc3339nano(1704067200_100000000) == "2024-01-01T00:00:00.1Z"
    assert rfc3339nano(1704067200_000000000) == "2024-01-01T00:00:00Z"
    assert rfc3339nano(1704067200_100000000, fixed=True).endswith(".100000000Z")
    assert parse_time_ns(rfc3339nano(ns)) == ns
    assert parse_time_ns("2024-01-01T02:00:00.5+02:00") == 1704067200_500000000


# -- reader -----------------------------------------------------------------------

T0 = 1704067200  # 2024-01-01T00:00:00Z


def write_entries(path: Path, entries: Sequence[tuple[str, str, float]]) -> None:
    with path.open("a") as f:
        for stream, text, when in entries:
            stamp = rfc3339nano(int(when * 1e9))
            f.write(json.dumps({"log": text, "stream": stream, "time": stamp}) + "\n")


def collect(path: Path, **kwargs: Any) -> list[LogEntry]:
    async def go() -> list[LogEntry]:
        return [e async for e in read_logs(path, **kwargs)]

    return asyncio.run(go())


@pytest.fixture
def log_file(tmp_path: Path) -> Path:
    path = tmp_path / "json.log"
    write_entries(
        path,
        [("stdout", f"out{i}\n", T0 + i) for i in range(5)]
        + [("stderr", "err\n", T0 + 5), ("stdout", "end\n", T0 + 6)],
    )
    return path


def test_read_all(log_file: Path) -> None:
    entries = collect(log_file, follow=False)
    assert [e.data for e in entries][:2] == [b"out0\n", b"out1\n"]
    assert len(entries) == 7
    assert entries[5] == LogEntry("stderr", b"err\n", T0 + 5)


def test_read_tail_and_filters(log_file: Path) -> None:
    assert [e.data for e in collect(log_file, follow=False, tail=2)] == [
        b"err\n",
        b"end\n",
    ]
    assert collect(log_file, follow=False, tail=0) == []
    assert len(collect(log_file, follow=False, tail=100)) == 7
    # tail counts lines before the stream filter, as Docker does.
    assert [e.data for e in collect(log_file, follow=False, tail=2, stderr=False)] == [
        b"end\n"
    ]
    assert [e.stream for e in collect(log_file, follow=False, stdout=False)] == [
        "stderr"
    ]
    since = collect(log_file, follow=False, since=T0 + 4, until=T0 + 5)
    assert [e.data for e in since] == [b"out4\n", b"err\n"]


def test_read_timestamps(log_file: Path) -> None:
    first = collect(log_file, follow=False, timestamps=True)[0]
    assert first.data == b"2024-01-01T00:00:00.000000000Z out0\n"


def test_read_missing_file(tmp_path: Path) -> None:
    assert collect(tmp_path / "nope.log", follow=False) == []


def test_follow_until_stopped(tmp_path: Path) -> None:
    path = tmp_path / "json.log"

    async def scenario() -> list[bytes]:
        stop = asyncio.Event()
        got: list[bytes] = []

        async def reader() -> None:
            async for entry in read_logs(path, follow=True, tail=None, stop=stop):
                got.append(entry.data)

        task = asyncio.create_task(reader())
        await asyncio.sleep(0.2)  # the file does not exist yet
        write_entries(path, [("stdout", "one\n", T0)])
        await asyncio.sleep(0.3)
        assert got == [b"one\n"]
        # A line written in two pieces is yielded once, whole.
        with path.open("a") as f:
            f.write('{"log":"two\\n","stream":"stdout",')
            f.flush()
            await asyncio.sleep(0.3)
            f.write('"time":"2024-01-01T00:00:01Z"}\n')
        write_entries(path, [("stderr", "three\n", T0 + 2)])
        stop.set()
        await asyncio.wait_for(task, 5)
        return got

    assert asyncio.run(scenario()) == [b"one\n", b"two\n", b"three\n"]


def test_follow_with_tail_starts_at_the_end(log_file: Path) -> None:
    async def scenario() -> list[bytes]:
        stop = asyncio.Event()
        stream = read_logs(log_file, follow=True, tail=1, stop=stop)
        first = await stream.__anext__()
        write_entries(log_file, [("stdout", "new\n", T0 + 9)])
        second = await asyncio.wait_for(stream.__anext__(), 5)
        stop.set()
        rest = [e.data async for e in stream]
        return [first.data, second.data, *rest]

    assert asyncio.run(scenario()) == [b"end\n", b"new\n"]


def test_read_follows_rotations(tmp_path: Path) -> None:
    """A follower reads a renamed file to its end and goes on with the next one
    (by the time of its first line), even when the writer rotated more than once
    since it last looked."""
    path = tmp_path / "json.log"

    def rotate() -> None:
        for n in (2, 1):
            older = tmp_path / f"json.log.{n}"
            if older.exists():
                older.rename(tmp_path / f"json.log.{n + 1}")
        path.rename(tmp_path / "json.log.1")

    async def scenario() -> list[bytes]:
        stop = asyncio.Event()
        write_entries(path, [("stdout", "a\n", T0)])
        stream = read_logs(path, follow=True, tail=None, stop=stop)
        got = [(await stream.__anext__()).data]
        write_entries(path, [("stdout", "b\n", T0 + 1)])
        rotate()
        write_entries(path, [("stdout", "c\n", T0 + 2)])
        rotate()
        write_entries(path, [("stdout", "d\n", T0 + 3)])
        for _ in range(3):
            got.append((await asyncio.wait_for(stream.__anext__(), 5)).data)
        stop.set()
        got += [e.data async for e in stream]
        return got

    assert asyncio.run(scenario()) == [b"a\n", b"b\n", b"c\n", b"d\n"]


def test_read_follows_a_log_emptied_in_place(tmp_path: Path) -> None:
    path = tmp_path / "json.log"

    async def scenario() -> list[bytes]:
        stop = asyncio.Event()
        write_entries(path, [("stdout", "old line\n", T0)])
        stream = read_logs(path, follow=True, tail=0, stop=stop)
        pending = asyncio.ensure_future(stream.__anext__())
        await asyncio.sleep(0.2)
        path.write_text("")
        write_entries(path, [("stdout", "new\n", T0)])
        got = [(await asyncio.wait_for(pending, 5)).data]
        stop.set()
        got += [e.data async for e in stream]
        return got

    assert asyncio.run(scenario()) == [b"new\n"]


def test_a_follower_keeps_the_files_it_has_seen(tmp_path: Path) -> None:
    """A file the follower has seen is read even if it is removed (with its
    container) before the follower gets to it."""
    path = tmp_path / "json.log"

    async def scenario() -> list[bytes]:
        stop = asyncio.Event()
        write_entries(path, [("stdout", "a\n", T0)])
        stream = read_logs(path, follow=True, tail=None, stop=stop)
        got = [(await stream.__anext__()).data]
        write_entries(path, [("stdout", "b\n", T0 + 1)])
        path.rename(tmp_path / "json.log.1")
        write_entries(path, [("stdout", "c\n", T0 + 2)])
        got.append((await stream.__anext__()).data)  # b, and c's file is seen
        for name in tmp_path.glob("json.log*"):
            name.unlink()
        stop.set()
        got += [e.data async for e in stream]
        return got

    assert asyncio.run(scenario()) == [b"a\n", b"b\n", b"c\n"]
