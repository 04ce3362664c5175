"""Container operations beyond the lifecycle: pause, unpause, rename, prune, changes.

Each takes the container manager and keeps its rules: the per-container lock around
a state change, typed errors with dockerd's messages, an event for each change.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Any

from pouch.ctrd.errors import ContainerdError
from pouch.errors import Conflict, InvalidParameter, PouchError
from pouch.mgr import names
from pouch.mgr.container import ContainerManager, _name_conflict, check_host
from pouch.mgr.records import Container, Status
from pouch.oci import hostopts
from pouch.oci.spec import resources
from pouch.store.db import NameInUse
from pouch.types import HostSettings, parse_model


async def pause(manager: ContainerManager, ref: str) -> None:
    container = manager.get(ref)
    async with manager._lock(container.id):
        container = manager.get(container.id)
        if not container.running:
            raise Conflict(f"Container {container.id} is not running")
        if container.state.status == Status.PAUSED:
            raise Conflict(f"Container {container.id} is already paused")
        await _call(manager, "pause_task", container)
        container.state.status = Status.PAUSED
        manager._save(container)
    manager.emit(container, "pause")


async def unpause(manager: ContainerManager, ref: str) -> None:
    container = manager.get(ref)
    async with manager._lock(container.id):
        container = manager.get(container.id)
        if container.state.status != Status.PAUSED:
            raise Conflict(f"Container {container.id} is not paused")
        await _call(manager, "resume_task", container)
        container.state.status = Status.RUNNING
        manager._save(container)
    manager.emit(container, "unpause")


async def _call(manager: ContainerManager, method: str, container: Container) -> None:
    runtime: Any = manager.runtime
    try:
        await getattr(runtime, method)(container.id)
    except ContainerdError as exc:
        raise PouchError(f"container {container.id}: cannot {method}: {exc}") from exc


async def rename(manager: ContainerManager, ref: str, new_name: str) -> None:
    container = manager.get(ref)
    new_name = names.check_name(new_name)
    old_name = container.name
    if new_name == old_name:
        raise Conflict("Renaming a container with the same name as its current name")
    async with manager._lock(container.id):
        container = manager.get(container.id)
        holder = manager.store.id_by_name(new_name)
        if holder:
            raise _name_conflict(new_name, holder)
        container.name = new_name
        try:
            manager._save(container)
        except NameInUse as exc:
            raise _name_conflict(new_name, "") from exc
    manager.emit(container, "rename", oldName="/" + old_name)


async def prune(
    manager: ContainerManager, filters: dict[str, list[str]]
) -> dict[str, Any]:
    """Removes stopped containers (``label`` and ``until`` filters as dockerd's)."""
    deleted: list[str] = []
    reclaimed = 0
    for container in manager.all():
        if container.running or not _prune_match(container, filters):
            continue
        written, _ = await manager.sizes(container)
        await manager.remove(container.id)
        deleted.append(container.id)
        reclaimed += written
    return {"ContainersDeleted": deleted or None, "SpaceReclaimed": reclaimed}


def _prune_match(container: Container, filters: dict[str, list[str]]) -> bool:
    from pouch.mgr.records import parse_rfc3339

    labels = container.request.Labels or {}
    for value in filters.get("label", []):
        key, _, wanted = value.partition("=")
        if key not in labels or (wanted and labels[key] != wanted):
            return False
    for value in filters.get("label!", []):
        key, _, wanted = value.partition("=")
        if key in labels and (not wanted or labels[key] == wanted):
            return False
    for value in filters.get("until", []):
        try:
            limit = float(value)
        except ValueError:
            raise InvalidParameter(
                f"invalid until filter {value!r}: expected seconds since the epoch"
            ) from None
        if parse_rfc3339(container.created) >= limit:
            return False
    return True


async def changes(manager: ContainerManager, ref: str) -> list[dict[str, Any]]:
    """``docker diff``: what the writable layer changed (0 modified, 1 added,
    2 deleted). Overlay marks a deletion with a 0:0 character device."""
    from pouch.mgr.container import _rootfs_dirs

    container = manager.get(ref)
    image = await manager.images.of_container(container.image_id, container.image_ref)
    runtime: Any = manager.runtime
    try:
        mounts = await runtime.prepare_rootfs(container.id, image.chain_id)
    except ContainerdError as exc:
        raise PouchError(f"container {container.id}: no rootfs: {exc}") from exc
    dirs = _rootfs_dirs(mounts)
    if not dirs:
        return []
    upper, lowers = dirs[0], dirs[1:]
    found: list[dict[str, Any]] = []
    for root, subdirs, files in os.walk(upper):
        for name in sorted(subdirs + files):
            path = Path(root) / name
            rel = str(path.relative_to(upper))
            info = path.lstat()
            if stat.S_ISCHR(info.st_mode) and info.st_rdev == 0:
                kind = 2
            elif any(
                (lower / rel).exists() or (lower / rel).is_symlink() for lower in lowers
            ):  # noqa: E501
                kind = 0
            else:
                kind = 1
            found.append({"Path": "/" + rel, "Kind": kind})
    return found


UPDATABLE = (
    "Memory", "MemorySwap", "CpuShares", "CpuQuota", "CpuPeriod", "NanoCpus",
    "CpusetCpus", "CpusetMems", "PidsLimit", "RestartPolicy",
)  # fmt: skip


async def update(
    manager: ContainerManager, ref: str, body: dict[str, Any]
) -> list[str]:
    """``docker update``: new limits, held to create's rules, applied to the running
    task and kept. A field sent as null is not set, as in create."""
    asked = {key: value for key, value in body.items() if value is not None}
    unknown = sorted(k for k in asked if k not in UPDATABLE and asked[k])
    if unknown:
        raise InvalidParameter(f"cannot update {unknown[0]}: not an updatable field")
    container = manager.get(ref)
    async with manager._lock(container.id):
        container = manager.get(container.id)
        host = _updated_host(container, asked)
        if container.running:
            await _call_with(manager, "update_task", container, _task_limits(host))
        container.request.HostConfig = host
        manager._save(container)
    manager.emit(container, "update")
    return []


def _updated_host(container: Container, asked: dict[str, Any]) -> HostSettings:
    """The container's ``HostConfig`` with ``asked`` laid over it, checked before
    anything reaches the runtime."""
    merged = {**container.request.HostConfig.model_dump(), **asked}
    host = parse_model(HostSettings, merged, "update request")
    check_host(host)
    policy = host.RestartPolicy.Name
    if "RestartPolicy" in asked and host.AutoRemove and policy not in ("", "no"):
        raise InvalidParameter(
            f"container {container.name}: restart policy cannot be updated "
            "because AutoRemove is enabled for the container"
        )
    return host


def _task_limits(host: HostSettings) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "process": {"args": [], "user": {}},
        "mounts": [],
        "linux": {"resources": resources(host)},
    }
    hostopts.apply(spec, host)
    limits: dict[str, Any] = spec["linux"]["resources"]
    limits.pop("devices", None)
    return limits


async def _call_with(
    manager: ContainerManager, method: str, container: Container, arg: Any
) -> None:
    runtime: Any = manager.runtime
    try:
        await getattr(runtime, method)(container.id, arg)
    except ContainerdError as exc:
        raise PouchError(f"Cannot update container {container.id}: {exc}") from exc


async def prune_images(
    manager: ContainerManager, filters: dict[str, list[str]]
) -> dict[str, Any]:
    """``docker image prune``: dangling images, or with ``dangling=false`` every
    image no container uses."""
    dangling_only = True
    for value in filters.get("dangling", []):
        if value.lower() not in ("true", "false", "1", "0"):
            raise InvalidParameter(f"invalid filter 'dangling={value}'")
        dangling_only = value.lower() in ("true", "1")
    deleted: list[dict[str, str]] = []
    reclaimed = 0
    for image in await manager.images.list():
        tags = [t for t in image.get("RepoTags") or [] if t != "<none>:<none>"]
        if image.get("Containers") or (dangling_only and tags):
            continue
        deleted += await manager.images.remove(image["Id"])
        reclaimed += int(image.get("Size") or 0)
    return {"ImagesDeleted": deleted or None, "SpaceReclaimed": reclaimed}
