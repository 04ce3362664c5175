"""Attach: a client's view of a container's stdio while it runs.

Output comes from the container's json-file log, not from the task's pipes: the shim
hands stdout and stderr to the log program, which stays the one sink so containers
outlive this daemon. An attach follows the log from its end (or from its start with
``logs``) until the container's next exit.

Stdin goes through the FIFO the shim reads for ``OpenStdin`` containers. The daemon
opens it read-write, which never blocks and keeps a writer present, so a client may
send input before the task exists (``docker run -i`` attaches before it starts). When
the client ends its input of a ``StdinOnce`` container, the FIFO is closed once the
task has started: closing earlier would drop what the pipe holds.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from pouch import detachkeys
from pouch.ctrd.errors import ContainerdError
from pouch.errors import Conflict, InvalidParameter
from pouch.mgr.container import ContainerManager
from pouch.mgr.records import Container, Status

log = logging.getLogger("pouch.container")

# How long the shim may take to open its end of the FIFO after the task starts.
_SHIM_OPEN_GRACE = 0.2
_STATE_POLL = 0.05
# How long input given before the start is kept for a task that does not start.
_START_WAIT = 60.0


@dataclass(frozen=True)
class AttachOptions:
    stdin: bool
    stdout: bool
    stderr: bool
    logs: bool
    stream: bool
    detach_keys: bytes


@dataclass
class AttachSession:
    container: Container
    output: AsyncIterator[Any] | None
    stdin_fd: int | None

    @property
    def tty(self) -> bool:
        return bool(self.container.request.Tty)

    def close_stdin(self) -> None:
        if self.stdin_fd is not None:
            with contextlib.suppress(OSError):
                os.close(self.stdin_fd)
            self.stdin_fd = None


def parse_detach_keys(text: str | None) -> bytes:
    """The detach sequence a request asks for; 400 if it names no key."""
    try:
        return detachkeys.parse_detach_keys(text)
    except detachkeys.DetachKeysError as exc:
        raise InvalidParameter(str(exc)) from exc


def open_session(
    manager: ContainerManager, ref: str, opts: AttachOptions
) -> AttachSession:
    """Looks the container up and opens its streams; raises before any upgrade."""
    container = manager.get(ref)
    _check_attachable(container)
    output = None
    if opts.stdout or opts.stderr:
        _, output = manager.logs(
            container.id,
            follow=opts.stream,
            stdout=opts.stdout,
            stderr=opts.stderr,
            tail=None if opts.logs else 0,
            since=0,
            until=0,
            timestamps=False,
        )
    stdin_fd = None
    if opts.stdin and opts.stream and container.request.OpenStdin:
        stdin_fd = _open_stdin(manager, container)
    return AttachSession(container, output, stdin_fd)


def _check_attachable(container: Container) -> None:
    """A paused or restarting container has no session to join, as in dockerd."""
    status = container.state.status
    if status == Status.PAUSED:
        raise Conflict(
            f"Container {container.id} is paused, unpause the container before attach"
        )
    if status == Status.RESTARTING:
        raise Conflict(
            f"Container {container.id} is restarting, wait until the container is "
            "running"
        )


def _open_stdin(manager: ContainerManager, container: Container) -> int:
    path = manager.stdin_path(container.id)
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        os.mkfifo(path, 0o600)
    return os.open(path, os.O_RDWR | os.O_CLOEXEC)


async def feed_stdin(
    manager: ContainerManager,
    session: AttachSession,
    chunks: AsyncIterator[bytes],
    detach_keys: bytes,
) -> bool:
    """Copies the client's input to the container; True if the client detached."""
    matcher = _DetachMatcher(detach_keys)
    fd = session.stdin_fd
    async for chunk in chunks:
        log.debug("container %s: %d bytes of input", session.container.id, len(chunk))
        data, detached = matcher.feed(chunk)
        if data and fd is not None:
            await asyncio.to_thread(_write_all, fd, data)
        if detached:
            return True
    log.debug("container %s: end of input", session.container.id)
    return False


async def finish_stdin(manager: ContainerManager, session: AttachSession) -> None:
    """Ends the session's hold on stdin; a ``StdinOnce`` container without a
    terminal sees its EOF. With a terminal, as with dockerd, the end of a client's
    input (or the client going away) leaves the container's stdin open."""
    if session.stdin_fd is None:
        return
    request = session.container.request
    if not request.StdinOnce or request.Tty:
        session.close_stdin()
        return
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(
            _until_started(manager, session.container.id), _START_WAIT
        )
    session.close_stdin()
    # The shim holds a write end of the FIFO too; CloseIO closes it.
    runtime: Any = manager.runtime
    with contextlib.suppress(ContainerdError):
        await runtime.close_process_stdin(session.container.id)


def _write_all(fd: int, data: bytes) -> None:
    with contextlib.suppress(OSError):
        while data:
            data = data[os.write(fd, data) :]


async def _until_started(manager: ContainerManager, cid: str) -> None:
    """Waits while the container is still only created, so its task holds the FIFO."""
    while True:
        try:
            status = manager.get(cid).state.status
        except Exception:
            return
        if status != Status.CREATED:
            break
        await asyncio.sleep(_STATE_POLL)
    # The shim gives no sign that it has opened the FIFO: a short grace stands in.
    await asyncio.sleep(_SHIM_OPEN_GRACE)


class _DetachMatcher:
    """Finds the detach sequence across chunk boundaries; holds back a partial match."""

    def __init__(self, keys: bytes) -> None:
        self.keys = keys
        self.held = b""

    def feed(self, chunk: bytes) -> tuple[bytes, bool]:
        if not self.keys:
            return chunk, False
        data = self.held + chunk
        self.held = b""
        at = data.find(self.keys)
        if at >= 0:
            return data[:at], True
        for size in range(min(len(self.keys) - 1, len(data)), 0, -1):
            if self.keys.startswith(data[-size:]):
                self.held = data[-size:]
                return data[:-size], False
        return data, False
