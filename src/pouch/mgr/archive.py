"""Copying files out of and into a container's filesystem, for ``docker cp`` and
``docker export``.

A running container's filesystem is reached through /proc/<pid>/root, which shows
its mounts too. A stopped container's rootfs is an overlay that is mounted only while
it runs, so its snapshot's mounts are mounted on a temporary directory for the copy.

The daemon never touches a path below that root itself, since the kernel would
resolve the container's symlinks against the host's ``/``: each look, read and write
is done by a ``pouchd chroot-archive`` process chrooted into the root (see
``chrootarchive``). This module starts it, streams to and from it, and turns its
exit status into our errors.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import os
import stat
import subprocess
import tempfile
from collections.abc import AsyncIterable, AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pouch.errors import InvalidParameter, NotFound, PouchError
from pouch.mgr import chrootarchive
from pouch.mgr.chrootarchive import Exit
from pouch.mgr.container import ContainerManager

_GO_DIR = 1 << 31
_GO_SYMLINK = 1 << 27


@dataclass(frozen=True)
class ContainerFS:
    """A container's root as the host sees it, for the length of one copy, and the
    executable whose ``chroot-archive`` role works inside it."""

    root: Path
    pouchd: str

    def helper(self, action: str, path: str, *flags: str) -> list[str]:
        return [self.pouchd, chrootarchive.ROLE, action, str(self.root), path, *flags]


def path_stat(fs: ContainerFS, path: str) -> dict[str, Any]:
    """The stat header's document for ``path``: its last link is not followed
    (unless the path ends in / or /.) and is given resolved, as dockerd gives it."""
    found = json.loads(_run(fs, "stat", path))
    mode = stat.S_IMODE(found["mode"])
    if stat.S_ISDIR(found["mode"]):
        mode |= _GO_DIR
    elif stat.S_ISLNK(found["mode"]):
        mode |= _GO_SYMLINK
    mtime = datetime.fromtimestamp(found["mtime_ns"] / 1e9, UTC)
    return {
        "name": os.path.basename(path.rstrip("/")) or "/",
        "size": found["size"],
        "mode": mode,
        "mtime": mtime.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        "linkTarget": found["link"],
    }


def stat_header(doc: dict[str, Any]) -> str:
    return base64.b64encode(json.dumps(doc).encode()).decode()


def tar_of(fs: ContainerFS, path: str) -> bytes:
    """A tarball of ``path`` under its own base name, as dockerd sends it."""
    return _run(fs, "tar", path)


async def extract(
    fs: ContainerFS,
    path: str,
    body: AsyncIterable[bytes],
    no_overwrite_dir_non_dir: bool = False,
) -> None:
    """Unpacks a client's tarball, streamed from ``body``, into the directory
    ``path`` of the container."""
    flags = [chrootarchive.NO_OVERWRITE_DIR_NON_DIR] if no_overwrite_dir_non_dir else []
    proc = await asyncio.create_subprocess_exec(
        *fs.helper("extract", path, *flags),
        stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip
    assert proc.stdin is not None and proc.stderr is not None
    try:
        errors, _ = await asyncio.gather(proc.stderr.read(), _feed(proc.stdin, body))
        code = await proc.wait()
    except BaseException:
        with contextlib.suppress(ProcessLookupError):
            proc.kill()
        await proc.wait()
        raise
    _raise_for(code, errors, path)


async def _feed(stdin: asyncio.StreamWriter, body: AsyncIterable[bytes]) -> None:
    """The body into the helper. Once it stops reading (it failed, or the tarball
    has ended) the rest is not sent: its exit status says which."""
    try:
        async for chunk in body:
            stdin.write(chunk)
            await stdin.drain()
        stdin.close()
        await stdin.wait_closed()
    except (BrokenPipeError, ConnectionResetError):
        pass


def _run(fs: ContainerFS, action: str, path: str) -> bytes:
    argv = fs.helper(action, path)
    done = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True)
    _raise_for(done.returncode, done.stderr, path)
    return done.stdout


def _raise_for(code: int, stderr: bytes, path: str) -> None:
    """The helper's exit status as our errors, its stderr as their message."""
    if code == Exit.OK:
        return
    message = stderr.decode(errors="replace").strip()
    if code == Exit.MISSING:
        raise _Missing(path)
    if code == Exit.REFUSED:
        raise InvalidParameter(message)
    raise PouchError(f"cannot copy {path}: {message or f'helper exit status {code}'}")


@contextlib.contextmanager
def mounted(mounts: list[Any]) -> Iterator[Path]:
    """The snapshot's mounts on a temporary directory, unmounted afterwards."""
    with tempfile.TemporaryDirectory(prefix="pouch-cp-") as tmp:
        for m in mounts:
            options = ",".join(m.options)
            argv = ["mount", "-t", m.type, m.source, tmp]
            if options:
                argv[1:1] = ["-o", options]
            done = subprocess.run(argv, capture_output=True, text=True)
            if done.returncode != 0:
                raise PouchError(f"cannot mount the rootfs: {done.stderr.strip()}")
        try:
            yield Path(tmp)
        finally:
            subprocess.run(["umount", tmp], capture_output=True)


@contextlib.asynccontextmanager
async def container_root(
    manager: ContainerManager, ref: str
) -> AsyncIterator[ContainerFS]:
    """The container's filesystem for the length of a copy."""
    container = manager.get(ref)
    try:
        async with _root(manager, container) as root:
            yield ContainerFS(root, manager.paths.pouchd)
    except _Missing as exc:
        raise NotFound(
            f"Could not find the file {exc.path} in container {ref}"
        ) from exc


@contextlib.asynccontextmanager
async def layers_view(
    manager: ContainerManager, ref: str
) -> AsyncIterator[ContainerFS]:
    """The container's own filesystem without its mounts (/proc, /dev, binds), for
    export: its layers as one read-only overlay, which may be mounted even while
    the container runs, since nothing writes through it."""
    from pouch.mgr.container import _rootfs_dirs

    container = manager.get(ref)
    image = await manager.images.of_container(container.image_id, container.image_ref)
    runtime: Any = manager.runtime
    mounts = await runtime.prepare_rootfs(container.id, image.chain_id)
    dirs = _rootfs_dirs(mounts)
    if len(dirs) < 2:
        with mounted(mounts) as root:
            yield ContainerFS(root, manager.paths.pouchd)
        return
    lower = ":".join(str(d) for d in dirs)
    view = type(mounts[0])(
        type="overlay", source="overlay", options=["ro", f"lowerdir={lower}"]
    )  # noqa: E501
    with mounted([view]) as root:
        yield ContainerFS(root, manager.paths.pouchd)


class _Missing(Exception):
    def __init__(self, path: str) -> None:
        super().__init__(path)
        self.path = path


@contextlib.asynccontextmanager
async def _root(manager: ContainerManager, container: Any) -> AsyncIterator[Path]:
    if container.running:
        yield Path(f"/proc/{container.state.pid}/root")
        return
    # The lock keeps a start from mounting the same snapshot meanwhile.
    async with manager._lock(container.id):
        image = await manager.images.of_container(
            container.image_id, container.image_ref
        )
        runtime: Any = manager.runtime
        mounts = await runtime.prepare_rootfs(container.id, image.chain_id)
        with mounted(mounts) as root:
            yield root
