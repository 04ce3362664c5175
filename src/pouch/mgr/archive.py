"""Copying files out of and into a container's filesystem, for ``docker cp``.

A running container's filesystem is reached through /proc/<pid>/root, which shows
its mounts too. A stopped container's rootfs is an overlay that is mounted only while
it runs, so its snapshot's mounts are mounted on a temporary directory for the copy.

Paths are resolved inside that root by hand: an absolute symlink in the container
names a path in the container, and the kernel would resolve it on the host.
"""

from __future__ import annotations

import base64
import contextlib
import io
import json
import os
import stat
import subprocess
import tarfile
import tempfile
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pouch.errors import InvalidParameter, NotFound, PouchError
from pouch.mgr.container import ContainerManager

_GO_DIR = 1 << 31
_GO_SYMLINK = 1 << 27
_MAX_LINKS = 40


def resolve(root: Path, path: str, follow_last: bool = True) -> Path:
    """``path`` inside the container, symlinks resolved against ``root``."""
    parts = [p for p in path.split("/") if p not in ("", ".")]
    current: list[str] = []
    links = 0
    while parts:
        part = parts.pop(0)
        if part == "..":
            if current:
                current.pop()
            continue
        candidate = root.joinpath(*current, part)
        if candidate.is_symlink() and (parts or follow_last):
            links += 1
            if links > _MAX_LINKS:
                raise InvalidParameter(f"too many levels of symbolic links: {path}")
            target = os.readlink(candidate)
            if target.startswith("/"):
                current = []
            parts = [p for p in target.split("/") if p not in ("", ".")] + parts
            continue
        current.append(part)
    return root.joinpath(*current)


def path_stat(root: Path, path: str) -> dict[str, Any]:
    target = resolve(root, path, follow_last=False)
    try:
        info = target.lstat()
    except FileNotFoundError as exc:
        raise _Missing(path) from exc
    mode = stat.S_IMODE(info.st_mode)
    link = ""
    if stat.S_ISDIR(info.st_mode):
        mode |= _GO_DIR
    elif stat.S_ISLNK(info.st_mode):
        mode |= _GO_SYMLINK
        link = os.readlink(target)
    mtime = datetime.fromtimestamp(info.st_mtime, UTC)
    return {
        "name": os.path.basename(path.rstrip("/")) or "/",
        "size": info.st_size,
        "mode": mode,
        "mtime": mtime.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        "linkTarget": link,
    }


def stat_header(doc: dict[str, Any]) -> str:
    return base64.b64encode(json.dumps(doc).encode()).decode()


def tar_of(root: Path, path: str) -> bytes:
    """A tarball of ``path`` under its own base name, as dockerd sends it."""
    source = resolve(root, path, follow_last=path.endswith(("/", "/.")))
    if not source.exists() and not source.is_symlink():
        raise _Missing(path)
    name = os.path.basename(path.rstrip("/").removesuffix("/.")) or "."
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        tar.add(str(source), arcname=name, recursive=True)
    return buf.getvalue()


def extract(root: Path, path: str, data: bytes) -> None:
    """Unpacks a client's tarball into the directory ``path`` of the container."""
    dest = resolve(root, path)
    if not dest.exists():
        raise _Missing(path)
    if not dest.is_dir():
        raise InvalidParameter(f"extraction point is not a directory: {path}")
    try:
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:*") as tar:
            tar.extractall(dest, filter="tar")
    except (tarfile.TarError, OSError) as exc:
        raise InvalidParameter(f"cannot extract archive into {path}: {exc}") from exc


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
async def container_root(manager: ContainerManager, ref: str) -> AsyncIterator[Path]:
    """The container's filesystem for the length of a copy."""
    container = manager.get(ref)
    try:
        async with _root(manager, container) as root:
            yield root
    except _Missing as exc:
        raise NotFound(
            f"Could not find the file {exc.path} in container {ref}"
        ) from exc


@contextlib.asynccontextmanager
async def layers_view(manager: ContainerManager, ref: str) -> AsyncIterator[Path]:
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
            yield root
        return
    lower = ":".join(str(d) for d in dirs)
    view = type(mounts[0])(
        type="overlay", source="overlay", options=["ro", f"lowerdir={lower}"]
    )  # noqa: E501
    with mounted([view]) as root:
        yield root


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
