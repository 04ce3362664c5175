"""Start and stop a containerd of our own, under the daemon's home directory.

containerd runs as a child with a config file we write, so that its root, state,
sockets and the opt plugin's directory all live under ``<home>/containerd`` and do
not collide with a system containerd. It is started in a session of its own: a
terminal's Ctrl-C to the daemon must not reach it. Stopping it leaves containers
running, because each task lives in its shim, which containerd does not own.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import subprocess
import time
from pathlib import Path

import grpc
from google.protobuf import empty_pb2

from pouch.ctrd.errors import ContainerdError
from pouch.ctrd.pb import version_grpc

log = logging.getLogger("pouch.ctrd")

START_TIMEOUT = 15.0
STOP_TIMEOUT = 10.0
_POLL = 0.05
_LOG_TAIL = 2048
_SYSTEM_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


class ContainerdProcess:
    """A containerd child process with its files under ``<home>/containerd``."""

    def __init__(
        self,
        home: str | Path,
        *,
        binary: str = "containerd",
        log_level: str = "info",
    ) -> None:
        self.dir = Path(home) / "containerd"
        self.binary = binary
        self.log_level = log_level
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def address(self) -> str:
        """Path of containerd's gRPC socket."""
        return str(self.dir / "containerd.sock")

    @property
    def config_path(self) -> Path:
        return self.dir / "config.toml"

    @property
    def log_path(self) -> Path:
        return self.dir / "containerd.log"

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc else None

    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def write_config(self) -> None:
        """Write the config file; every path containerd writes to is under ours."""
        for sub in ("root", "state", "opt"):
            (self.dir / sub).mkdir(parents=True, exist_ok=True)
        self.config_path.write_text(self._config_text())

    def _config_text(self) -> str:
        def q(value: str | Path) -> str:
            return '"' + str(value).replace("\\", "\\\\").replace('"', '\\"') + '"'

        return "\n".join(
            [
                "version = 2",
                f"root = {q(self.dir / 'root')}",
                f"state = {q(self.dir / 'state')}",
                'disabled_plugins = ["io.containerd.grpc.v1.cri"]',
                "",
                "[grpc]",
                f"  address = {q(self.address)}",
                "",
                "[ttrpc]",
                f"  address = {q(self.address + '.ttrpc')}",
                "",
                "[debug]",
                f"  level = {q(self.log_level)}",
                "",
                '[plugins."io.containerd.internal.v1.opt"]',
                f"  path = {q(self.dir / 'opt')}",
                "",
            ]
        )

    async def start(self) -> None:
        """Start containerd and return once its socket answers Version."""
        if self.running():
            return
        await self._stop_leftover()
        self.write_config()
        self._spawn()
        self._pid_path.write_text(f"{self.pid}\n")
        log.info("containerd starting, pid %d, socket %s", self.pid, self.address)
        try:
            await self._wait_ready()
        except BaseException:
            await self.stop()
            raise

    @property
    def _pid_path(self) -> Path:
        return self.dir / "containerd.pid"

    async def _stop_leftover(self) -> None:
        """A pouchd killed with SIGKILL leaves its containerd running (it has a
        session of its own). A second one on the same root would wait on the first
        one's lock, so the leftover is stopped first; its tasks keep running in
        their shims and the new containerd finds them."""
        try:
            pid = int(self._pid_path.read_text())
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except (OSError, ValueError):
            return
        if str(self.config_path).encode() not in cmdline:
            return  # the pid was reused by something else
        log.warning("stopping containerd pid %d left by an earlier pouchd", pid)
        for sig, wait in ((signal.SIGTERM, STOP_TIMEOUT), (signal.SIGKILL, 5.0)):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, sig)
            deadline = time.monotonic() + wait
            while Path(f"/proc/{pid}").exists() and time.monotonic() < deadline:
                if _is_zombie(pid):
                    return
                await asyncio.sleep(0.05)
            if not Path(f"/proc/{pid}").exists():
                return

    def _spawn(self) -> None:
        # containerd, its shims and runc, and so the hooks that runc runs in its own
        # environment, get none of the daemon's variables but PATH. The shim and
        # runc are looked up on it; daemons often start with a bare one.
        env = {"PATH": ":".join(p for p in (os.environ.get("PATH"), _SYSTEM_PATH) if p)}
        with open(self.log_path, "ab") as out:
            self._proc = subprocess.Popen(
                [self.binary, "--config", str(self.config_path)],
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                env=env,
                start_new_session=True,
            )

    async def _wait_ready(self) -> None:
        """Poll Version until it answers, the process dies, or time runs out."""
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            if self._proc is not None and self._proc.poll() is not None:
                raise ContainerdError(
                    f"containerd exited with status {self._proc.returncode} while "
                    f"starting; {self.log_path} ends with:\n{self.log_tail()}"
                )
            if await _answers(self.address):
                log.info("containerd ready at %s", self.address)
                return
            if time.monotonic() > deadline:
                raise ContainerdError(
                    f"containerd did not answer on {self.address} within "
                    f"{START_TIMEOUT:.0f}s; {self.log_path} ends with:\n"
                    f"{self.log_tail()}"
                )
            await asyncio.sleep(0.1)

    def log_tail(self) -> str:
        """The last lines containerd wrote, for error messages."""
        try:
            with open(self.log_path, "rb") as f:
                f.seek(max(0, f.seek(0, os.SEEK_END) - _LOG_TAIL))
                return f.read().decode("utf-8", "replace")
        except OSError:
            return "(no log)"

    async def stop(self, timeout: float = STOP_TIMEOUT) -> None:
        """SIGTERM, wait up to ``timeout``, then SIGKILL. Tasks keep running."""
        proc = self._proc
        if proc is None:
            return
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            if not await _wait_exit(proc, timeout):
                log.warning("containerd pid %d ignored SIGTERM, killing", proc.pid)
                proc.kill()
                await _wait_exit(proc, timeout)
        log.info("containerd stopped, pid %d, status %s", proc.pid, proc.returncode)
        self._proc = None


def _is_zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0] == "Z"
    except (OSError, IndexError):
        return False


async def _wait_exit(proc: subprocess.Popen[bytes], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while proc.poll() is None:
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(_POLL)
    return True


async def _answers(address: str) -> bool:
    """True if a containerd answers Version on ``address``."""
    if not os.path.exists(address):
        return False
    async with grpc.aio.insecure_channel(f"unix://{address}") as channel:
        stub = version_grpc.VersionStub(channel)
        try:
            await stub.Version(empty_pb2.Empty(), timeout=1.0)
        except grpc.aio.AioRpcError:
            return False
    return True
