"""The asynchronous containerd client that ``mgr`` drives.

All calls are gRPC over the unix socket with ``grpc.aio``, so none blocks the event
loop. That matters for ``create_task``: while containerd runs it, runc runs the
spec's prestart hooks, and one of them calls back into this same daemon.

Results are dataclasses; protobufs never leave this package.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from google.protobuf import any_pb2, empty_pb2

from pouch.ctrd.conn import Connection
from pouch.ctrd.errors import (
    ContainerdAlreadyExists,
    ContainerdError,
    ContainerdNotFound,
)
from pouch.ctrd.images import ImageRecord, ImageService
from pouch.ctrd.imagespec import LABEL_GC_ROOT
from pouch.ctrd.pb import (
    containers_pb2,
    mount_pb2,
    runc_options_pb2,
    snapshots_pb2,
    task_pb2,
    tasks_pb2,
)
from pouch.ctrd.transfer import ImageStore

log = logging.getLogger("pouch.ctrd")

SNAPSHOTTER = "overlayfs"
RUNTIME = "io.containerd.runc.v2"
SPEC_TYPE_URL = "types.containerd.io/opencontainers/runtime-spec/1/Spec"
RUNC_OPTIONS_TYPE_URL = "containerd.runc.v1.Options"
PROCESS_SPEC_TYPE_URL = "types.containerd.io/opencontainers/runtime-spec/1/Process"
RESOURCES_TYPE_URL = "types.containerd.io/opencontainers/runtime-spec/1/LinuxResources"

_STATUS = {
    task_pb2.Status.CREATED: "created",
    task_pb2.Status.RUNNING: "running",
    task_pb2.Status.STOPPED: "stopped",
    task_pb2.Status.PAUSED: "paused",
    task_pb2.Status.PAUSING: "paused",
}

__all__ = [
    "Containerd",
    "ContainerInfo",
    "ExitStatus",
    "ImageRecord",
    "Mount",
    "TaskInfo",
]


@dataclass(frozen=True)
class Mount:
    """One mount of a container's rootfs, as the snapshotter describes it."""

    type: str
    source: str
    target: str = ""
    options: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class ExitStatus:
    code: int
    exited_at: datetime | None


@dataclass(frozen=True)
class TaskInfo:
    """A task's state: ``status`` is created, running, stopped, paused or unknown."""

    id: str
    pid: int
    status: str
    exit_status: ExitStatus | None


@dataclass(frozen=True)
class ContainerInfo:
    id: str
    image: str
    labels: dict[str, str]
    snapshot_key: str
    runtime: str
    spec: dict[str, Any]


class Containerd:
    """A connection to containerd in one namespace."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn
        self._stubs = conn.stubs
        self._images = ImageService(conn, SNAPSHOTTER)

    @classmethod
    async def connect(cls, address: str, namespace: str = "default") -> Containerd:
        """Open a channel to the socket at ``address``; checks that it answers."""
        client = cls(Connection(address, namespace))
        try:
            await client.version()
        except BaseException:
            await client.close()
            raise
        return client

    @property
    def namespace(self) -> str:
        return self._conn.namespace

    async def close(self) -> None:
        await self._conn.close()

    async def version(self) -> str:
        resp = await self._conn.call(
            "version", self._stubs.version.Version, empty_pb2.Empty(), timeout=5
        )
        return str(resp.version)

    # -- images ---------------------------------------------------------------

    async def import_archive(self, path: Path | str) -> list[ImageRecord]:
        """Load a ``docker save`` or OCI-layout tarball and unpack its layers."""
        return await self._images.import_archive(path)

    async def list_images(self) -> list[ImageRecord]:
        return await self._images.list()

    async def get_image(self, name: str) -> ImageRecord:
        return await self._images.get(name)

    async def delete_image(self, name: str) -> None:
        await self._images.delete(name)

    async def tag_image(self, src: str, new_name: str) -> ImageRecord:
        return await self._images.tag(src, new_name)

    def image_store(self) -> ImageStore:
        """The content store, leases and unpacking, for pulls, pushes and saves."""
        return ImageStore(self._images)

    # -- rootfs ---------------------------------------------------------------

    async def prepare_rootfs(self, key: str, parent_chain_id: str) -> list[Mount]:
        """A writable snapshot on top of the image's layers, or the existing one.

        The snapshot is a gc root: between here and the container record nothing
        else refers to it, and containerd's collector may run at any moment.
        """
        snaps = self._stubs.snapshots
        req = snapshots_pb2.PrepareSnapshotRequest(
            snapshotter=SNAPSHOTTER,
            key=key,
            parent=parent_chain_id,
            labels={LABEL_GC_ROOT: _now_rfc3339()},
        )
        try:
            resp = await self._conn.call(f"rootfs prepare {key}", snaps.Prepare, req)
        except ContainerdAlreadyExists:
            resp = await self._conn.call(
                f"rootfs mounts {key}",
                snaps.Mounts,
                snapshots_pb2.MountsRequest(snapshotter=SNAPSHOTTER, key=key),
            )
        return [_mount(m) for m in resp.mounts]

    async def rootfs_mounts(self, key: str) -> list[Mount] | None:
        """The mounts of the existing snapshot ``key``; None if there is none."""
        try:
            resp = await self._conn.call(
                f"rootfs mounts {key}",
                self._stubs.snapshots.Mounts,
                snapshots_pb2.MountsRequest(snapshotter=SNAPSHOTTER, key=key),
            )
        except ContainerdNotFound:
            return None
        return [_mount(m) for m in resp.mounts]

    async def remove_rootfs(self, key: str) -> None:
        try:
            await self._conn.call(
                f"rootfs remove {key}",
                self._stubs.snapshots.Remove,
                snapshots_pb2.RemoveSnapshotRequest(snapshotter=SNAPSHOTTER, key=key),
            )
        except ContainerdNotFound:
            pass

    # -- containers -----------------------------------------------------------

    async def create_container(
        self,
        id: str,
        spec: dict[str, Any],
        snapshot_key: str,
        image_name: str,
        labels: dict[str, str],
        runc_root: str,
    ) -> None:
        """Record the container: its spec, rootfs snapshot and runc options."""
        options = runc_options_pb2.Options(root=runc_root)
        container = containers_pb2.Container(
            id=id,
            image=image_name,
            labels=labels,
            runtime=containers_pb2.Container.Runtime(
                name=RUNTIME,
                options=any_pb2.Any(
                    type_url=RUNC_OPTIONS_TYPE_URL, value=options.SerializeToString()
                ),
            ),
            spec=any_pb2.Any(type_url=SPEC_TYPE_URL, value=json.dumps(spec).encode()),
            snapshotter=SNAPSHOTTER,
            snapshot_key=snapshot_key,
        )
        await self._conn.call(
            f"container create {id}",
            self._stubs.containers.Create,
            containers_pb2.CreateContainerRequest(container=container),
        )

    async def delete_container(self, id: str) -> None:
        try:
            await self._conn.call(
                f"container delete {id}",
                self._stubs.containers.Delete,
                containers_pb2.DeleteContainerRequest(id=id),
            )
        except ContainerdNotFound:
            pass

    async def get_container(self, id: str) -> ContainerInfo:
        resp = await self._conn.call(
            f"container {id}",
            self._stubs.containers.Get,
            containers_pb2.GetContainerRequest(id=id),
        )
        return _container_info(resp.container)

    async def list_containers(self) -> list[ContainerInfo]:
        resp = await self._conn.call(
            "container list",
            self._stubs.containers.List,
            containers_pb2.ListContainersRequest(),
        )
        return [_container_info(c) for c in resp.containers]

    # -- tasks ----------------------------------------------------------------

    async def create_task(
        self,
        id: str,
        mounts: list[Mount],
        stdout: str,
        stderr: str,
        stdin: str = "",
        terminal: bool = False,
    ) -> int:
        """Create the container's task (runc create, prestart hooks); its pid."""
        req = tasks_pb2.CreateTaskRequest(
            container_id=id,
            rootfs=[_mount_pb(m) for m in mounts],
            stdin=stdin,
            stdout=stdout,
            stderr=stderr,
            terminal=terminal,
        )
        resp = await self._conn.call(f"task create {id}", self._stubs.tasks.Create, req)
        log.debug("task %s created, pid %d", id, resp.pid)
        return int(resp.pid)

    async def start_task(self, id: str) -> None:
        await self._conn.call(
            f"task start {id}",
            self._stubs.tasks.Start,
            tasks_pb2.StartRequest(container_id=id),
        )

    async def wait_task(self, id: str) -> ExitStatus:
        """Block until the task exits. Cancelling this cancels the call.

        Start waiting before ``start_task`` so no exit goes unseen; waiting on a
        task that exited already answers at once until the task is deleted.
        """
        resp = await self._conn.call(
            f"task wait {id}",
            self._stubs.tasks.Wait,
            tasks_pb2.WaitRequest(container_id=id),
        )
        return ExitStatus(int(resp.exit_status), _time(resp.exited_at))

    async def kill_task(self, id: str, signal: int, all: bool = False) -> None:
        await self._conn.call(
            f"task kill {id}",
            self._stubs.tasks.Kill,
            tasks_pb2.KillRequest(container_id=id, signal=signal, all=all),
        )

    async def delete_task(self, id: str) -> ExitStatus | None:
        """Delete a stopped task; None if there was none."""
        try:
            resp = await self._conn.call(
                f"task delete {id}",
                self._stubs.tasks.Delete,
                tasks_pb2.DeleteTaskRequest(container_id=id),
            )
        except ContainerdNotFound:
            return None
        return ExitStatus(int(resp.exit_status), _time(resp.exited_at))

    async def get_task(self, id: str) -> TaskInfo:
        resp = await self._conn.call(
            f"task {id}", self._stubs.tasks.Get, tasks_pb2.GetRequest(container_id=id)
        )
        return _task_info(resp.process)

    async def list_tasks(self) -> list[TaskInfo]:
        resp = await self._conn.call(
            "task list", self._stubs.tasks.List, tasks_pb2.ListTasksRequest()
        )
        return [_task_info(p) for p in resp.tasks]

    async def task_pids(self, id: str) -> list[int]:
        resp = await self._conn.call(
            f"task pids {id}",
            self._stubs.tasks.ListPids,
            tasks_pb2.ListPidsRequest(container_id=id),
        )
        return [int(p.pid) for p in resp.processes]

    async def resize_pty(
        self, id: str, width: int, height: int, exec_id: str = ""
    ) -> None:
        await self._conn.call(
            f"task resize {id}",
            self._stubs.tasks.ResizePty,
            tasks_pb2.ResizePtyRequest(
                container_id=id, exec_id=exec_id, width=width, height=height
            ),
        )

    async def exec_process(
        self,
        id: str,
        exec_id: str,
        process_spec: dict[str, Any],
        stdin: str,
        stdout: str,
        stderr: str,
        terminal: bool,
    ) -> None:
        """Add a process to a running task (runc exec); started by ``start_process``."""
        req = tasks_pb2.ExecProcessRequest(
            container_id=id,
            exec_id=exec_id,
            stdin=stdin,
            stdout=stdout,
            stderr=stderr,
            terminal=terminal,
            spec=any_pb2.Any(
                type_url=PROCESS_SPEC_TYPE_URL, value=json.dumps(process_spec).encode()
            ),
        )
        await self._conn.call(f"exec {id}/{exec_id}", self._stubs.tasks.Exec, req)

    async def start_process(self, id: str, exec_id: str) -> int:
        resp = await self._conn.call(
            f"exec start {id}/{exec_id}",
            self._stubs.tasks.Start,
            tasks_pb2.StartRequest(container_id=id, exec_id=exec_id),
        )
        return int(resp.pid)

    async def wait_process(self, id: str, exec_id: str) -> ExitStatus:
        resp = await self._conn.call(
            f"exec wait {id}/{exec_id}",
            self._stubs.tasks.Wait,
            tasks_pb2.WaitRequest(container_id=id, exec_id=exec_id),
        )
        return ExitStatus(int(resp.exit_status), _time(resp.exited_at))

    async def kill_process(self, id: str, exec_id: str, signal: int) -> None:
        await self._conn.call(
            f"exec kill {id}/{exec_id}",
            self._stubs.tasks.Kill,
            tasks_pb2.KillRequest(container_id=id, exec_id=exec_id, signal=signal),
        )

    async def close_process_stdin(self, id: str, exec_id: str = "") -> None:
        await self._conn.call(
            f"close stdin {id}/{exec_id}",
            self._stubs.tasks.CloseIO,
            tasks_pb2.CloseIORequest(container_id=id, exec_id=exec_id, stdin=True),
        )

    async def delete_process(self, id: str, exec_id: str) -> None:
        try:
            await self._conn.call(
                f"exec delete {id}/{exec_id}",
                self._stubs.tasks.DeleteProcess,
                tasks_pb2.DeleteProcessRequest(container_id=id, exec_id=exec_id),
            )
        except ContainerdNotFound:
            pass

    async def update_task(self, id: str, resources: dict[str, Any]) -> None:
        """Change a running task's cgroup limits (runc update)."""
        await self._conn.call(
            f"task update {id}",
            self._stubs.tasks.Update,
            tasks_pb2.UpdateTaskRequest(
                container_id=id,
                resources=any_pb2.Any(
                    type_url=RESOURCES_TYPE_URL, value=json.dumps(resources).encode()
                ),
            ),
        )

    async def pause_task(self, id: str) -> None:
        await self._conn.call(
            f"task pause {id}",
            self._stubs.tasks.Pause,
            tasks_pb2.PauseTaskRequest(container_id=id),
        )

    async def resume_task(self, id: str) -> None:
        await self._conn.call(
            f"task resume {id}",
            self._stubs.tasks.Resume,
            tasks_pb2.ResumeTaskRequest(container_id=id),
        )


def _mount(m: Any) -> Mount:
    return Mount(type=m.type, source=m.source, target=m.target, options=list(m.options))


def _mount_pb(m: Mount) -> Any:
    return mount_pb2.Mount(
        type=m.type, source=m.source, target=m.target, options=m.options
    )


def _time(ts: Any) -> datetime | None:
    """A protobuf Timestamp as an aware datetime; None for the zero value."""
    if not ts.seconds and not ts.nanos:
        return None
    return datetime.fromtimestamp(ts.seconds + ts.nanos / 1e9, tz=UTC)


def _now_rfc3339() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _task_info(p: Any) -> TaskInfo:
    status = _STATUS.get(p.status, "unknown")
    exit_status = None
    if status == "stopped":
        exit_status = ExitStatus(int(p.exit_status), _time(p.exited_at))
    return TaskInfo(
        id=p.container_id or p.id,
        pid=int(p.pid),
        status=status,
        exit_status=exit_status,
    )


def _container_info(c: Any) -> ContainerInfo:
    try:
        spec = json.loads(c.spec.value) if c.spec.value else {}
    except ValueError as err:
        raise ContainerdError(f"container {c.id}: spec is not JSON: {err}") from err
    return ContainerInfo(
        id=c.id,
        image=c.image,
        labels=dict(c.labels),
        snapshot_key=c.snapshot_key,
        runtime=c.runtime.name,
        spec=spec,
    )
