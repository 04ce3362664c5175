"""/dev/shm of containers whose IPC namespace others may join (``IpcMode``
``shareable``).

The problem: a container that joins another's IPC namespace must see its POSIX
shared memory too, which lives in its /dev/shm. The /dev/shm that runc mounts is in
the donor's mount namespace, and the kernel refuses to bind a mount of another mount
namespace (``/proc/<pid>/root/dev/shm`` fails). So, as dockerd does, a shareable
container's /dev/shm is a tmpfs the daemon mounts on the host, in the container's
directory; it is bound into the container and into each one that joins it, and
unmounted when the container's task ends.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

from pouch.errors import PouchError

DEFAULT_SIZE = 64 * 1024 * 1024  # what dockerd gives without --shm-size


def path(directory: Path) -> Path:
    return directory / "shm"


async def mount(directory: Path, size: int) -> Path:
    """The tmpfs at ``directory``/shm, made if it is not there yet."""
    target = path(directory)
    target.mkdir(parents=True, exist_ok=True)
    if os.path.ismount(target):
        return target
    options = f"nosuid,nodev,noexec,mode=1777,size={size or DEFAULT_SIZE}"
    code, err = await _run("mount", "-t", "tmpfs", "-o", options, "shm", str(target))
    if code != 0:
        raise PouchError(f"cannot mount a /dev/shm at {target}: {err}")
    return target


async def unmount(directory: Path) -> None:
    """Unmounts the tmpfs if it is mounted; nothing otherwise."""
    target = path(directory)
    if os.path.ismount(target):
        await _run("umount", str(target))


async def _run(*argv: str) -> tuple[int, str]:
    proc = await asyncio.create_subprocess_exec(
        *argv,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    _, err = await proc.communicate()
    return int(proc.returncode or 0), err.decode(errors="replace").strip()
