"""Stdio for containers with an open stdin and no terminal.

The shim wires a task's stdin only when its stdout and stderr are FIFOs (or files):
with the ``binary://`` log program it leaves stdin unconnected. Such containers get
FIFOs for all three, and the same log program, started here rather than by the
shim, reads stdout and stderr from the FIFOs into the json-file log. It runs in its
own session, so it outlives this daemon as the shim's would, and the log stays the
one sink that logs and attach read.

Opening a FIFO blocks until its other end is opened; the program's shell opens the
read ends while the shim, inside Tasks.Create, opens the write ends, so the two meet
without either side holding an end open early.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from pathlib import Path

# The running log programs this daemon started, by container directory.
_running: dict[Path, asyncio.Task[int]] = {}
_PID_FILE = "logger.pid"

# $0 is the pouchd executable; $1 the log (its path, or with rotation the JSON that
# pouch.ctrd.logwriter.log_argument makes); $2 and $3 the FIFOs. The descriptors are
# those the log program reads (see pouch.ctrd.logwriter); fd 5 stands in for the
# shim's "ready" pipe, which the program closes: left unset, the number would be
# reused by the program's own files and closed under it.
_SCRIPT = 'exec "$0" json-file "$1" 3<"$2" 4<"$3" 5>/dev/null'


async def start_fifo_logger(
    pouchd: str, directory: Path, log_argument: str
) -> tuple[str, str]:
    """Makes the stdout and stderr FIFOs, starts their reader; their paths.
    ``log_argument`` is the log program's argument: the log's path and rotation."""
    fifos = []
    for name in ("stdout", "stderr"):
        path = directory / name
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
        os.mkfifo(path, 0o600)
        fifos.append(str(path))
    proc = await asyncio.create_subprocess_exec(
        "/bin/sh", "-c", _SCRIPT, os.path.abspath(pouchd), log_argument, *fifos,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
        start_new_session=True,
    )  # fmt: skip
    # Reap it when it ends, while this daemon runs; after that, init does. Its pid is
    # kept so that a later daemon can still wait for it.
    task = asyncio.create_task(proc.wait())
    _running[directory] = task
    task.add_done_callback(lambda _: _running.pop(directory, None))
    (directory / _PID_FILE).write_text(str(proc.pid))
    return fifos[0], fifos[1]


async def wait_fifo_logger(directory: Path, timeout: float = 10.0) -> None:
    """Waits until the log program has written the last output and ended: after the
    task is deleted the shim has closed the FIFOs, and the program drains them. An
    exit recorded before that would end a followed log before its last lines."""
    pid_file = directory / _PID_FILE
    task = _running.get(directory)
    try:
        if task is not None:
            await asyncio.wait_for(asyncio.shield(task), timeout)
        elif pid_file.exists():
            await _wait_gone(int(pid_file.read_text() or 0), timeout)
    except (TimeoutError, ValueError, OSError):
        pass
    pid_file.unlink(missing_ok=True)


async def _wait_gone(pid: int, timeout: float) -> None:
    """A log program started by an earlier daemon: not our child, so poll."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while pid > 0 and _is_log_program(pid) and loop.time() < deadline:
        await asyncio.sleep(0.02)


def _is_log_program(pid: int) -> bool:
    try:
        return b"json-file" in Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False


async def release_fifo_logger(directory: Path) -> None:
    """Lets the log program go when no task will ever write to its FIFOs (a start
    that failed): it waits in open() for a writer, so we open each write end for a
    moment and it reads end of file. Harmless when the task holds them already."""
    for name in ("stdout", "stderr"):
        path = directory / name
        for _ in range(40):
            try:
                fd = os.open(path, os.O_WRONLY | os.O_NONBLOCK)
            except FileNotFoundError:
                break
            except OSError:  # ENXIO: its reader has not got this far yet
                await asyncio.sleep(0.05)
                continue
            os.close(fd)
            break
