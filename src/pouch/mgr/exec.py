"""Exec: extra processes in a running container, as ``docker exec`` runs them.

An exec's stdio goes to the client, not to the container's log, so each one gets
FIFOs in ``containers/<id>/exec/<exec id>/``. The daemon opens the read ends of
stdout and stderr (non-blocking) before containerd's shim opens their write ends, and
stdin read-write so that input given early waits in the pipe. The records live in
memory, as dockerd's do: an exec does not outlive the daemon that ran it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shutil
import signal as signals
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pouch.ctrd.errors import ContainerdError
from pouch.errors import Conflict, InvalidParameter, NotFound, PouchError
from pouch.mgr import names
from pouch.mgr.container import ContainerManager
from pouch.oci import defaults
from pouch.oci.users import UnknownUser, resolve_user
from pouch.types import ExecConfig, parse_model

log = logging.getLogger("pouch.container")

_READ_SIZE = 32 * 1024


@dataclass
class ExecRecord:
    id: str
    container_id: str
    config: ExecConfig
    running: bool = False
    started: bool = False
    exit_code: int | None = None
    pid: int = 0
    exited: asyncio.Event = field(default_factory=asyncio.Event)

    def to_api(self) -> dict[str, Any]:
        cmd = list(self.config.Cmd or [])
        return {
            "ID": self.id,
            "Running": self.running,
            "ExitCode": self.exit_code,
            "ProcessConfig": {
                "tty": self.config.Tty,
                "entrypoint": cmd[0] if cmd else "",
                "arguments": cmd[1:],
                "privileged": self.config.Privileged,
                "user": self.config.User or "",
            },
            "OpenStdin": self.config.AttachStdin,
            "OpenStdout": self.config.AttachStdout,
            "OpenStderr": self.config.AttachStderr,
            "CanRemove": False,
            "ContainerID": self.container_id,
            "DetachKeys": self.config.DetachKeys or "",
            "Pid": self.pid,
        }


@dataclass
class ExecIO:
    """The daemon's ends of one exec's FIFOs."""

    directory: Path
    stdin_fd: int | None
    outputs: dict[str, int]  # stream name -> read end

    def close_stdin(self) -> None:
        if self.stdin_fd is not None:
            with contextlib.suppress(OSError):
                os.close(self.stdin_fd)
            self.stdin_fd = None

    def close(self) -> None:
        self.close_stdin()
        for fd in self.outputs.values():
            with contextlib.suppress(OSError):
                os.close(fd)
        self.outputs.clear()
        shutil.rmtree(self.directory, ignore_errors=True)


class ExecManager:
    def __init__(self, containers: ContainerManager) -> None:
        self.containers = containers
        self.runtime: Any = containers.runtime
        self._execs: dict[str, ExecRecord] = {}

    def create(self, ref: str, body: dict[str, Any]) -> ExecRecord:
        container = self.containers.get(ref)
        config = _decode(body)
        if not config.Cmd:
            raise InvalidParameter("No exec command specified")
        if not container.running:
            raise Conflict(f"Container {container.id} is not running")
        if container.state.status == "paused":
            raise Conflict(
                f"Container {container.id} is paused, unpause the container before exec"
            )  # noqa: E501
        record = ExecRecord(id=names.new_id(), container_id=container.id, config=config)
        self._execs[record.id] = record
        self._emit(record, "exec_create: " + " ".join(config.Cmd))
        return record

    def _emit(self, record: ExecRecord, action: str, **extra: str) -> None:
        """A container event about one of its execs, as dockerd names them."""
        with contextlib.suppress(NotFound):
            container = self.containers.get(record.container_id)
            self.containers.emit(container, action, execID=record.id, **extra)

    def get(self, exec_id: str) -> ExecRecord:
        record = self._execs.get(exec_id)
        if record is None:
            raise NotFound(f"No such exec instance: {exec_id}")
        return record

    def check_startable(self, exec_id: str) -> None:
        """The checks ``start`` makes, for the API to answer them before an upgrade."""
        record = self.get(exec_id)
        if record.started:
            raise Conflict(f"Exec {exec_id} has already been started")
        self.containers.get(record.container_id)

    async def start(
        self, exec_id: str, tty: bool | None = None
    ) -> tuple[ExecRecord, ExecIO]:  # noqa: E501
        """Starts the process with its FIFOs open; the caller copies its streams."""
        self.check_startable(exec_id)
        record = self.get(exec_id)
        if tty is not None:
            record.config.Tty = tty
        container = self.containers.get(record.container_id)
        if not container.running:
            raise Conflict(f"Container {container.id} is not running")
        record.started = True
        io = self._open_io(record)
        try:
            spec = await self._process_spec(record, container.state.pid)
            await self._exec(record, io, spec)
        except BaseException:
            io.close()
            record.exit_code = 126
            record.exited.set()
            raise
        return record, io

    async def _exec(self, record: ExecRecord, io: ExecIO, spec: dict[str, Any]) -> None:
        cid, eid = record.container_id, record.id
        paths = {
            name: str(io.directory / name) for name in ("stdin", "stdout", "stderr")
        }  # noqa: E501
        try:
            await self.runtime.exec_process(
                cid,
                eid,
                spec,
                stdin=paths["stdin"] if io.stdin_fd is not None else "",
                stdout=paths["stdout"],
                stderr="" if record.config.Tty else paths["stderr"],
                terminal=record.config.Tty,
            )
            waiter = asyncio.create_task(self.runtime.wait_process(cid, eid))
            await asyncio.sleep(0)  # the wait goes out before the start
            record.pid = await self.runtime.start_process(cid, eid)
        except ContainerdError as exc:
            with contextlib.suppress(ContainerdError):
                await self.runtime.delete_process(cid, eid)
            raise _exec_error(record, exc) from exc
        record.running = True
        self._emit(record, "exec_start: " + " ".join(record.config.Cmd or []))
        asyncio.create_task(self._on_exit(record, waiter))
        log.info("exec %s in container %s started, pid %d", eid[:12], cid, record.pid)

    async def _on_exit(self, record: ExecRecord, waiter: asyncio.Task[Any]) -> None:
        try:
            status = await waiter
            code = int(status.code)
        except ContainerdError:
            code = 255
        with contextlib.suppress(ContainerdError):
            await self.runtime.delete_process(record.container_id, record.id)
        record.exit_code = code
        record.running = False
        record.exited.set()
        self._emit(record, "exec_die", exitCode=str(code))

    def _open_io(self, record: ExecRecord) -> ExecIO:
        directory = self.containers.paths.container_dir(record.container_id)
        directory = directory / "exec" / record.id
        directory.mkdir(parents=True, exist_ok=True)
        streams = ["stdout"] if record.config.Tty else ["stdout", "stderr"]
        outputs = {}
        for name in streams:
            os.mkfifo(directory / name, 0o600)
            outputs[name] = os.open(directory / name, os.O_RDONLY | os.O_NONBLOCK)
        stdin_fd = None
        if record.config.AttachStdin:
            os.mkfifo(directory / "stdin", 0o600)
            stdin_fd = os.open(directory / "stdin", os.O_RDWR | os.O_CLOEXEC)
        return ExecIO(directory, stdin_fd, outputs)

    async def _process_spec(self, record: ExecRecord, pid: int) -> dict[str, Any]:
        info = await self.runtime.get_container(record.container_id)
        process = dict(info.spec.get("process") or {})
        config = record.config
        process["args"] = list(config.Cmd or [])
        process["terminal"] = config.Tty
        process["env"] = list(process.get("env") or []) + list(config.Env or [])
        if config.WorkingDir:
            process["cwd"] = config.WorkingDir
        if config.User:
            process["user"] = _user(config.User, pid)
        if config.Privileged:
            caps = defaults.host_capabilities()
            process["capabilities"] = {
                k: caps for k in ("bounding", "effective", "permitted")
            }  # noqa: E501
        process.pop("consoleSize", None)
        return process

    async def resize(self, exec_id: str, width: int, height: int) -> None:
        record = self.get(exec_id)
        if not record.running or not record.config.Tty:
            return
        with contextlib.suppress(ContainerdError):
            await self.runtime.resize_pty(
                record.container_id, width, height, exec_id=record.id
            )

    async def feed_stdin(
        self, record: ExecRecord, io: ExecIO, chunks: AsyncIterator[bytes]
    ) -> None:
        """Client input to the process; at its end the process sees EOF.

        The shim holds a write end of the FIFO itself, so closing ours is not
        enough: CloseIO makes it close its own once the pipe is drained.
        """
        async for data in chunks:
            if io.stdin_fd is not None:
                await asyncio.to_thread(_write_all, io.stdin_fd, data)
        if io.stdin_fd is None:
            return
        log.debug("exec %s: end of input", record.id[:12])
        io.close_stdin()
        with contextlib.suppress(ContainerdError):
            await self.runtime.close_process_stdin(record.container_id, record.id)

    async def output(
        self, record: ExecRecord, io: ExecIO
    ) -> AsyncIterator[tuple[str, bytes]]:  # noqa: E501
        """(stream, data) until every output FIFO reaches EOF."""
        queue: asyncio.Queue[tuple[str, bytes] | None] = asyncio.Queue()
        loop = asyncio.get_running_loop()
        open_fds = dict(io.outputs)

        def readable(name: str, fd: int) -> None:
            try:
                data = os.read(fd, _READ_SIZE)
            except BlockingIOError:
                return
            except OSError:
                data = b""
            if data:
                queue.put_nowait((name, data))
                return
            loop.remove_reader(fd)
            open_fds.pop(name, None)
            if not open_fds:
                queue.put_nowait(None)

        for name, fd in io.outputs.items():
            loop.add_reader(fd, readable, name, fd)
        try:
            while True:
                item = await queue.get()
                if item is None:
                    break
                yield item
        finally:
            for fd in open_fds.values():
                loop.remove_reader(fd)
        await record.exited.wait()

    async def kill_all(self, cid: str) -> None:
        for record in [r for r in self._execs.values() if r.container_id == cid]:
            if record.running:
                with contextlib.suppress(ContainerdError):
                    await self.runtime.kill_process(cid, record.id, signals.SIGKILL)

    async def kill(self, record: ExecRecord) -> None:
        if record.running:
            with contextlib.suppress(ContainerdError):
                await self.runtime.kill_process(
                    record.container_id, record.id, signals.SIGKILL
                )

    def discard(self, exec_id: str) -> None:
        """Forgets one exec whose caller has what it needed of it."""
        self._execs.pop(exec_id, None)

    def forget(self, cid: str) -> None:
        for eid in [e for e, r in self._execs.items() if r.container_id == cid]:
            del self._execs[eid]


def _decode(body: dict[str, Any]) -> ExecConfig:
    return parse_model(ExecConfig, body, "exec request")


def _exec_error(record: ExecRecord, exc: ContainerdError) -> PouchError:
    """The runtime's own words when it refused the command, as dockerd gives them;
    else what went wrong, with the container named."""
    text = str(exc)
    runtime_words = text.find("OCI runtime exec failed")
    if runtime_words >= 0:
        return PouchError(text[runtime_words:])
    if "executable file not found" in text or "no such file" in text:
        cmd = (record.config.Cmd or [""])[0]
        return PouchError(
            f"OCI runtime exec failed: exec failed: unable to start container "
            f'process: exec: "{cmd}": executable file not found in $PATH: unknown'
        )
    return PouchError(f"container {record.container_id}: cannot exec: {exc}")


def _user(user: str, pid: int) -> dict[str, Any]:
    try:
        uid, gid, extra = resolve_user(user, [Path(f"/proc/{pid}/root")])
    except UnknownUser as exc:
        raise InvalidParameter(str(exc)) from exc
    return {"uid": uid, "gid": gid, "additionalGids": extra}


def _write_all(fd: int, data: bytes) -> None:
    with contextlib.suppress(OSError):
        while data:
            data = data[os.write(fd, data) :]
