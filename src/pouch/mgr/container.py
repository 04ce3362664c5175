"""Containers: create, start, stop, kill, remove, wait, and what happens at exit.

Ordering and failure rules in one place:

- create: plugins' pre_create, then validation (mounts and volume names included),
  then the writable snapshot, then the volumes (found, or made and filled from the
  image), then the store row. A failure at any step leaves nothing: the volumes made
  and the snapshot are removed if a later step fails.
- start: endpoints (pre_create_endpoint for each), the container's files, pre_start,
  the spec with its ordered prestart hooks, the containerd container, the task (runc
  runs the hooks here, and the network hook calls back into this daemon), then start.
  Every step registers its undo; a failure runs them all, so a failed start leaves the
  container ``created`` with no endpoint, address, task or containerd record.
- exit: a watcher per running task waits on containerd, then deletes the task and the
  containerd record, releases the endpoints and records the exit code. Stop and wait
  observe exits through ``_exits`` rather than polling.

Per-container locks serialise transitions; none is held while waiting for an exit, so
the watcher (which takes the lock) can always finish.
"""

from __future__ import annotations

import asyncio
import builtins
import contextlib
import logging
import os
import shutil
import signal as signals
import socket
from collections.abc import AsyncIterator, Awaitable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pouch.ctrd import jsonlog
from pouch.ctrd.errors import ContainerdError, ContainerdNotFound
from pouch.errors import (
    Conflict,
    InvalidParameter,
    NotFound,
    NotModified,
    PouchError,
)
from pouch.hookplugins import Hook, PluginManager, order_hooks, poststop
from pouch.mgr import (
    createcheck,
    health,
    layerdirs,
    logconfig,
    mounts,
    names,
    restart,
    shm,
    stdio,
)
from pouch.mgr import network as netmgr
from pouch.mgr.events import EventBus
from pouch.mgr.image import ImageManager
from pouch.mgr.ports import Networks, Runtime
from pouch.mgr.records import (
    Container,
    EndpointInfo,
    MountPoint,
    State,
    Status,
    now_rfc3339,
)
from pouch.mgr.views import inspect_doc, list_entry, matches_filters
from pouch.mgr.volumes import VolumeManager
from pouch.oci import SpecInput, build_spec, hostopts
from pouch.oci.spec import Mount, SpecError, resolve_command
from pouch.oci.users import UnknownUser
from pouch.store.db import Store
from pouch.store.volumes import VolumeStore
from pouch.types import CreateRequest, HostSettings, decode_object, parse_model

log = logging.getLogger("pouch.container")
# How long rm -f waits for a killed task's exit before it looks at the state again.
_REMOVE_KILL_WAIT = 10.0

MIN_MEMORY = 6 * 1024 * 1024
# Starts by restart policy while the daemon comes up: tries and the pause before each.
_POLICY_START_TRIES = 20
_POLICY_START_PAUSE = 0.5
SPECIAL_NETWORKS = ("none", "host")


@dataclass
class Paths:
    home: Path
    pouchd: str  # the executable that runs hooks and the log program

    def container_dir(self, cid: str) -> Path:
        return self.home / "containers" / cid

    @property
    def runc_root(self) -> str:
        return str(self.home / "containerd" / "runc")


class _Exits:
    """Futures waiting for a container's next exit or its removal."""

    def __init__(self) -> None:
        self._exit: dict[str, list[asyncio.Future[int]]] = {}
        self._removed: dict[str, list[asyncio.Future[int]]] = {}

    def next_exit(self, cid: str) -> asyncio.Future[int]:
        future = asyncio.get_running_loop().create_future()
        self._exit.setdefault(cid, []).append(future)
        return future

    def removal(self, cid: str) -> asyncio.Future[int]:
        future = asyncio.get_running_loop().create_future()
        self._removed.setdefault(cid, []).append(future)
        return future

    def exited(self, cid: str, code: int) -> None:
        for future in self._exit.pop(cid, []):
            if not future.done():
                future.set_result(code)

    def removed(self, cid: str, code: int) -> None:
        self.exited(cid, code)
        for future in self._removed.pop(cid, []):
            if not future.done():
                future.set_result(code)


class ContainerManager:
    def __init__(
        self,
        store: Store,
        runtime: Runtime,
        networks: Networks,
        plugins: PluginManager,
        paths: Paths,
    ) -> None:
        self.store = store
        self.runtime = runtime
        self.networks = networks
        self.plugins = plugins
        self.paths = paths
        self._locks: dict[str, asyncio.Lock] = {}
        self._exits = _Exits()
        self._watchers: dict[str, asyncio.Task[None]] = {}
        self._create_lock = asyncio.Lock()
        self.events = EventBus()
        self.images = ImageManager(runtime, self._users_of_image, self.events)
        self.volumes = VolumeManager(
            VolumeStore(store.path),
            paths.home / "volumes",
            self._users_of_volumes,
            self.events,
        )
        # Exits a user asked for, which no restart policy undoes; restarts so far.
        self._user_stopped: set[str] = set()
        self._restarts: dict[str, int] = {}
        # Set by the daemon, which has the exec manager it needs.
        self.health: health.HealthMonitor | None = None

    def emit(self, container: Container, action: str, **extra: str) -> None:
        """A container event, with the attributes docker clients filter on."""
        attributes = {"name": container.name, "image": container.image}
        attributes.update(container.request.Labels or {})
        attributes.update(extra)
        self.events.emit("container", action, container.id, attributes)

    def emit_network(
        self, network_id: str, name: str, driver: str, action: str, **extra: str
    ) -> None:
        """A network event; ``container`` names the container of a (dis)connect."""
        attributes = {"name": name, "type": driver, **extra}
        self.events.emit("network", action, network_id, attributes)

    def _emit_endpoint(
        self, container_id: str, info: EndpointInfo, action: str
    ) -> None:
        with contextlib.suppress(NotFound):
            network = self._network(info.network)
            self.emit_network(
                network.id, network.name, str(network.driver), action,
                container=container_id,
            )  # fmt: skip

    # -- lookup ---------------------------------------------------------------

    def get(self, ref: str) -> Container:
        """A container by full id, name, or unique id prefix; 404 otherwise."""
        doc = self.store.get(ref)
        if doc is None:
            cid = self.store.id_by_name(ref.lstrip("/"))
            if cid is None and ref:
                matches = self.store.ids_with_prefix(ref)
                if len(matches) > 1:
                    raise InvalidParameter(
                        f"multiple containers found with provided prefix: {ref}"
                    )
                cid = matches[0] if matches else None
            doc = self.store.get(cid) if cid else None
        if doc is None:
            raise NotFound(f"No such container: {ref}")
        return Container.from_doc(doc)

    def all(self) -> list[Container]:
        return [Container.from_doc(doc) for doc in self.store.all()]

    def _users_of_image(self, image_id: str) -> list[str]:
        return [c.id for c in self.all() if c.image_id == image_id]

    def _users_of_volumes(self) -> dict[str, list[str]]:
        users: dict[str, list[str]] = {}
        for container in self.all():
            for point in container.mounts:
                if point.type != "volume":
                    continue
                ids = users.setdefault(point.name, [])
                if container.id not in ids:
                    ids.append(container.id)
        return users

    def _save(self, container: Container) -> None:
        self.store.put(container.id, container.name, container.to_doc())

    def _lock(self, cid: str) -> asyncio.Lock:
        return self._locks.setdefault(cid, asyncio.Lock())

    # -- create ---------------------------------------------------------------

    async def create(self, body: bytes, name: str = "") -> Container:
        body = await self.plugins.pre_create(body)
        request = _decode(body)
        name = names.check_name(name) if name else ""
        self._validate(request)
        image = await self.images.resolve(request.Image)
        asked = _mount_plan(request, image)

        async with self._create_lock:
            if name and self.store.id_by_name(name):
                raise _name_conflict(name, self.store.id_by_name(name) or "")
            container = self._new_record(request, name or self._free_name(), image)
            rootfs = await self._prepare_rootfs(container, image)
            try:
                async with self.volumes.claim(container.id):
                    container.mounts = await self.volumes.mount_points(
                        container.id, asked, _rootfs_dirs(rootfs)
                    )
                    self._save(container)
            except BaseException:
                await self._remove_rootfs(container.id)
                raise
        log.info("container %s created as %s", container.id, container.name)
        self.emit(container, "create")
        return container

    def _free_name(self) -> str:
        while True:
            name = names.random_name()
            if not self.store.id_by_name(name):
                return name

    def _validate(self, request: CreateRequest) -> None:
        host = request.HostConfig
        if not request.Image:
            raise InvalidParameter("Config.Image is required: name the image to run")
        check_host(host)
        if host.AutoRemove and host.RestartPolicy.Name not in ("", "no"):
            raise InvalidParameter(
                "can't create 'AutoRemove' container with restart policy"
            )
        createcheck.check_request(request)
        health.check(request.Healthcheck)
        logconfig.parse(host.LogConfig)
        self._check_joined(host)
        _mount_plan(request, None)
        netmgr.check_ports(request)
        netmgr.check_endpoints(request)
        for network in _network_names(request):
            if network.startswith(hostopts.CONTAINER_MODE):
                self.get(network.removeprefix(hostopts.CONTAINER_MODE))
                continue
            self._network_for_create(network)

    def _check_joined(self, host: HostSettings) -> None:
        """The containers that ``container:<ref>`` PID and IPC modes name exist (a
        400, as for networks); an IPC donor shares its namespace, as dockerd's
        must."""
        for kind, ref in hostopts.joined_containers(host).items():
            try:
                donor = self.get(ref)
            except NotFound as exc:
                raise InvalidParameter(
                    f"invalid {kind.upper()} mode container:{ref}: {exc}"
                ) from exc
            if kind == "ipc" and donor.request.HostConfig.IpcMode not in (
                "shareable",
                "host",
            ):
                raise InvalidParameter(
                    f"container {ref}: non-shareable IPC (hint: use IpcMode:shareable "
                    "for the donor container)"
                )

    def _network_for_create(self, name: str) -> Any:
        """An unknown network in a create request is bad input (400): the docker CLI
        answers any 404 from create by pulling the image and trying again."""
        try:
            return self._network(name)
        except NotFound as exc:
            raise InvalidParameter(str(exc)) from exc

    def _network(self, name: str) -> Any:
        from pouch.network.errors import NetworkNotFound

        try:
            return self.networks.get_network(name)
        except NetworkNotFound as exc:
            raise NotFound(f"network {name} not found") from exc

    def _new_record(self, request: CreateRequest, name: str, image: Any) -> Container:
        cid = names.new_id()
        log_config = logconfig.parse(request.HostConfig.LogConfig)
        # Inspect names the driver a container got, as dockerd does for "".
        request.HostConfig.LogConfig.Type = log_config.driver
        keeps_log = log_config.keeps_log
        image_config = image.config.get("config") or {}
        request.Healthcheck = health.merge(request.Healthcheck, image_config)
        log_path = self.paths.container_dir(cid) / f"{cid}-json.log"
        return Container(
            id=cid,
            name=name,
            created=now_rfc3339(),
            image=request.Image,
            image_ref=image.name,
            image_id=image.id,
            request=request,
            log_path=str(log_path) if keeps_log else "",
            hostname=_hostname(request, cid),
            args=_resolve_command(request, image),
            networks=[EndpointInfo(network=n) for n in _network_names(request)],
        )

    async def _prepare_rootfs(self, container: Container, image: Any) -> list[Any]:
        try:
            return await self.runtime.prepare_rootfs(container.id, image.chain_id)
        except ContainerdError as exc:
            raise PouchError(
                f"container {container.id}: cannot prepare its rootfs: {exc}"
            ) from exc

    async def _remove_rootfs(self, cid: str) -> None:
        with contextlib.suppress(ContainerdError):
            await self.runtime.remove_rootfs(cid)

    # -- start ----------------------------------------------------------------

    async def start(self, ref: str) -> None:
        container = self.get(ref)
        self._user_stopped.discard(container.id)
        self._restarts.pop(container.id, None)
        restart.mark_stopped(self.paths.container_dir(container.id), False)
        try:
            await self._start_locked(container.id, by_policy=False)
        except NotModified:
            raise
        except PouchError:
            # As dockerd does, a --rm container that cannot start is removed, so
            # that a client waiting for its removal (docker run --rm) is answered.
            if container.request.HostConfig.AutoRemove:
                with contextlib.suppress(PouchError):
                    await self.remove(container.id, force=True, volumes=True)
            raise

    async def _start_locked(self, cid: str, by_policy: bool) -> None:
        """A start by the user counts restarts from zero again, as dockerd does; one
        by the restart policy counts one more."""
        async with self._lock(cid):
            container = self.get(cid)
            if container.running:
                raise NotModified(f"container {container.id} is already running")
            container.restart_count = container.restart_count + 1 if by_policy else 0
            await self._start(container)

    async def _start(self, container: Container) -> None:
        undo = contextlib.AsyncExitStack()
        async with undo:
            waiter = await self._launch(container, undo)
            undo.pop_all()
        container.state = State(
            status=Status.RUNNING,
            pid=container.state.pid,
            started_at=now_rfc3339(),
            health=container.state.health,
        )
        if self.health is not None:
            self.health.watch(container, fresh=True)
        self._save(container)
        self._watch(container.id, waiter)
        log.info("container %s started, pid %d", container.id, container.state.pid)
        self.emit(container, "start")

    async def _launch(
        self, container: Container, undo: contextlib.AsyncExitStack
    ) -> asyncio.Task[Any]:
        """Every step from endpoints to a started task; each pushes its undo."""
        image = await self.images.of_container(container.image_id, container.image_ref)
        cid = container.id

        undo.push_async_callback(self._release_network, container)
        await self._create_endpoints(container)
        await self._publish_ports(container, image)
        files = self._write_files(container)
        plugin_hooks = await self.plugins.pre_start(inspect_doc(container))
        plugin_hooks += self._hook_files(container)
        hooks = order_hooks(self._daemon_hooks(container), plugin_hooks)
        # poststop hooks run from the daemon at the final exit, not from runc at
        # every task delete (see hookplugins.poststop).
        container.poststop_hooks = [
            {**h.to_oci(), "env": list(h.env or [])}
            for h in hooks
            if h.stage == "poststop"
        ]
        hooks = [h for h in hooks if h.stage != "poststop"]

        mounts = await self._prepare_rootfs(container, image)
        _make_bind_sources(container)
        await self._mount_shm(container, undo)
        spec = self._spec(container, image, hooks, files, mounts)
        try:
            await self.runtime.create_container(
                cid, spec, cid, image.name, {"io.pouch.name": container.name},
                self.paths.runc_root,
            )  # fmt: skip
            undo.push_async_callback(self._delete_ctrd_container, cid)
            self.paths.container_dir(cid).mkdir(parents=True, exist_ok=True)
            stdout, stderr = await self._output_uris(container)
            if container.request.OpenStdin and not container.request.Tty:
                directory = self.paths.container_dir(cid)
                undo.push_async_callback(stdio.release_fifo_logger, directory)
            container.state.pid = await self.runtime.create_task(
                cid,
                mounts,
                stdout=stdout,
                stderr=stderr,
                stdin=self._stdin_fifo(container),
                terminal=container.request.Tty,
            )
            undo.push_async_callback(self._delete_task, cid)
            waiter = asyncio.create_task(self.runtime.wait_task(cid))
            undo.callback(waiter.cancel)
            await asyncio.sleep(0)  # let the wait call go out before the start
            await self.runtime.start_task(cid)
        except ContainerdError as exc:
            raise PouchError(f"container {cid}: cannot start: {exc}") from exc
        return waiter

    async def _output_uris(self, container: Container) -> tuple[str, str]:
        """The log program through the shim, or through FIFOs when stdin must be
        wired without a terminal (see pouch.mgr.stdio)."""
        request = container.request
        path, max_size, max_files = self._log_target(container)
        if request.OpenStdin and not request.Tty:
            return await stdio.start_fifo_logger(
                self.paths.pouchd,
                self.paths.container_dir(container.id),
                jsonlog.log_argument(path, max_size, max_files),
            )
        uri = jsonlog.binary_log_uri(self.paths.pouchd, path, max_size, max_files)
        return uri, uri

    def _log_target(self, container: Container) -> tuple[str, int, int]:
        """Where the log program writes, and its rotation: the log, or the none
        driver's small buffer (see pouch.mgr.logconfig)."""
        config = logconfig.parse(container.request.HostConfig.LogConfig)
        if config.keeps_log:
            return container.log_path, config.max_size, config.max_files
        buffer = logconfig.buffer_path(self.paths.container_dir(container.id))
        return str(buffer), logconfig.BUFFER_SIZE, logconfig.BUFFER_FILES

    def stdin_path(self, cid: str) -> Path:
        return self.paths.container_dir(cid) / "stdin"

    def _stdin_fifo(self, container: Container) -> str:
        """A FIFO the shim reads the task's stdin from, for ``OpenStdin`` containers.

        It lives in the container's directory, so an attach after a daemon restart
        finds it; the shim, not this daemon, holds its read end.
        """
        if not container.request.OpenStdin:
            return ""
        path = self.stdin_path(container.id)
        if not path.exists():
            os.mkfifo(path, 0o600)
        return str(path)

    async def _create_endpoints(self, container: Container) -> None:
        env = list(container.request.Env or [])
        attached = []
        for info in container.networks:
            if info.network in SPECIAL_NETWORKS or _shares_netns(info.network):
                attached.append(info)
                continue
            attached.append(await self._create_endpoint(container, info.network, env))
        container.networks = attached

    async def _create_endpoint(
        self, container: Container, name: str, env: list[str]
    ) -> EndpointInfo:
        """pre_create_endpoint, then the endpoint with what the request asks."""
        choice = await self.plugins.pre_create_endpoint(container.id, env)
        options = netmgr.endpoint_options(container, name)
        with netmgr.translate():
            endpoint = await self.networks.create_endpoint(
                container.id,
                name,
                priority=choice.priority,
                disable_resolver=choice.disable_resolver,
                generic_params=choice.generic_params,
                ip=options.ip,
                aliases=options.aliases,
                mac=options.mac,
            )
        info = _endpoint_info(name, self._network(name), endpoint)
        info.aliases = options.aliases[2:]
        self._emit_endpoint(container.id, info, "connect")
        return info

    async def _publish_ports(self, container: Container, image: Any) -> None:
        """Bind the container's host ports before anything runs: a port another
        container or program holds fails the start with 409."""
        requests = netmgr.port_requests(container, image.config.get("config") or {})
        if not requests:
            return
        netmgr.check_port_conflicts(container, requests, self.all())
        with netmgr.translate():
            records = await self.networks.publish(container.id, requests)
        container.ports = netmgr.published_doc(records)

    async def connect(self, ref: str, network: str, settings: Any) -> None:
        """Attach a container to a network: at its next start, or now if it runs,
        with an interface made live and the default route moved if it should be."""
        container = self.get(ref)
        async with self._lock(container.id):
            container = self.get(container.id)
            netmgr.check_connectable(container, network)
            netmgr.attach_settings(container, network, settings)
            if container.running:
                env = list(container.request.Env or [])
                info = await self._create_endpoint(container, network, env)
                try:
                    with netmgr.translate():
                        await self.networks.join(container.id, container.state.pid)
                except BaseException:
                    with netmgr.translate():
                        await self.networks.disconnect(container.id, network, None)
                    raise
                container.networks[-1] = info
                self._refresh_resolv(container)
            self._save(container)
        log.info("container %s connected to %s", container.id, network)

    def _refresh_resolv(self, container: Container) -> None:
        path = container.files.get("resolv.conf")
        if path and not _shares_netns(container.network_mode):
            self.networks.refresh_resolv(container.id, Path(path))

    async def disconnect(self, ref: str, network: str) -> None:
        container = self.get(ref)
        async with self._lock(container.id):
            container = self.get(container.id)
            if not any(i.network == network for i in container.networks):
                raise Conflict(
                    f"container {container.name} is not connected to network {network}"
                )
            if container.running and network not in SPECIAL_NETWORKS:
                with netmgr.translate():
                    await self.networks.disconnect(
                        container.id, network, container.state.pid
                    )
                for info in container.networks:
                    if info.network == network and info.endpoint_id:
                        self._emit_endpoint(container.id, info, "disconnect")
                records = self.networks.published(container.id)
                container.ports = netmgr.published_doc(records)
                self._refresh_resolv(container)
            netmgr.detach_settings(container, network)
            self._save(container)
        log.info("container %s disconnected from %s", container.id, network)

    def _write_files(self, container: Container) -> dict[str, Path]:
        if _shares_netns(container.network_mode):
            return self._shared_files(container)
        directory = self.paths.container_dir(container.id)
        directory.mkdir(parents=True, exist_ok=True)
        mode = container.network_mode
        kind = mode if mode in SPECIAL_NETWORKS else "bridge"
        made = self.networks.write_container_files(
            container.id,
            directory,
            container.hostname,
            kind,
            createcheck.file_options(container.request),
        )
        container.files = {k: str(v) for k, v in made.items()}
        return {f"/etc/{k}": Path(v) for k, v in made.items()}

    def _hook_files(self, container: Container) -> list[Hook]:
        """The hooks.d hooks whose conditions hold: on the spec's annotations (the
        labels), the process's argv[0], and whether there are bind mounts."""
        return self.plugins.oci_hooks(
            dict(container.request.Labels or {}),
            container.args[0] if container.args else "",
            any(point.type != "tmpfs" for point in container.mounts),
        )

    def _shared_files(self, container: Container) -> dict[str, Path]:
        """A container in another's namespace uses that one's resolv.conf, hosts
        and hostname, as it uses its interfaces."""
        owner = self._netns_owner(container)
        container.files = dict(owner.files)
        return {f"/etc/{k}": Path(v) for k, v in owner.files.items()}

    def _netns_owner(self, container: Container) -> Container:
        """The running container whose namespace ``container:<ref>`` names."""
        owner = self.get(container.network_mode.removeprefix(hostopts.CONTAINER_MODE))
        if not owner.running:
            raise Conflict(
                f"cannot join the network namespace of container {owner.name}: "
                "it is not running"
            )
        return owner

    def _daemon_hooks(self, container: Container) -> list[Hook]:
        if container.network_mode == "host" or _shares_netns(container.network_mode):
            return []
        args = [
            "pouchd",
            "libnetwork-setkey",
            container.id,
            self.networks.controller_id,
        ]
        return [Hook(path=self.paths.pouchd, args=args)]

    def _spec(
        self,
        container: Container,
        image: Any,
        hooks: list[Hook],
        files: dict[str, Path],
        mounts: list[Any],
    ) -> dict[str, Any]:
        inp = SpecInput(
            container_id=container.id,
            config=container.request,
            host_config=container.request.HostConfig,
            image_config=image.config.get("config") or {},
            hostname=container.hostname,
            prestart_hooks=hooks,
            host_network=container.network_mode == "host",
            netns_path=self._netns_path(container),
            joined_pids=self._joined_pids(container),
            shm_source=self._shm_source(container),
            files=files,
            mounts=[_spec_mount(point) for point in container.mounts],
            rootfs_dirs=_rootfs_dirs(mounts),
        )
        try:
            return build_spec(inp)
        except (SpecError, UnknownUser) as exc:
            raise InvalidParameter(f"container {container.id}: {exc}") from exc

    def _joined_pids(self, container: Container) -> dict[str, int]:
        """The pids of the running containers whose PID or IPC namespace this one
        joins, by kind."""
        pids = {}
        joined = hostopts.joined_containers(container.request.HostConfig)
        for kind, ref in joined.items():
            donor = self.get(ref)
            if not donor.running:
                raise Conflict(
                    f"cannot join the {kind.upper()} namespace of container "
                    f"{donor.name}: it is not running"
                )
            pids[kind] = donor.state.pid
        return pids

    async def _mount_shm(
        self, container: Container, undo: contextlib.AsyncExitStack
    ) -> None:
        """A shareable IPC namespace's /dev/shm, on the host (see pouch.mgr.shm)."""
        host = container.request.HostConfig
        if host.IpcMode == "shareable":
            directory = self.paths.container_dir(container.id)
            undo.push_async_callback(shm.unmount, directory)
            await shm.mount(directory, host.ShmSize)

    def _shm_source(self, container: Container) -> str:
        """The host directory at /dev/shm: the container's own shareable tmpfs, or
        that of the container whose IPC namespace it joins (the host's /dev/shm
        for a donor in the host's)."""
        mode = container.request.HostConfig.IpcMode
        if mode == "shareable":
            return str(shm.path(self.paths.container_dir(container.id)))
        ref = hostopts.joined_containers(container.request.HostConfig).get("ipc")
        if ref is None:
            return ""
        donor = self.get(ref)
        if donor.request.HostConfig.IpcMode == "host":
            return "/dev/shm"
        return str(shm.path(self.paths.container_dir(donor.id)))

    def _netns_path(self, container: Container) -> str:
        if not _shares_netns(container.network_mode):
            return ""
        return f"/proc/{self._netns_owner(container).state.pid}/ns/net"

    # -- exit -----------------------------------------------------------------

    def _watch(self, cid: str, waiter: Awaitable[Any]) -> None:
        self._watchers[cid] = asyncio.create_task(self._on_exit(cid, waiter))

    async def _on_exit(self, cid: str, waiter: Awaitable[Any]) -> None:
        try:
            status = await waiter
            code = int(status.code)
        except ContainerdError as exc:
            log.warning("container %s: lost its task: %s", cid, exc)
            code = 255
        async with self._lock(cid):
            container = self.get(cid)
            await self._cleanup_exit(container, code)
        self._watchers.pop(cid, None)
        self.emit(container, "die", exitCode=str(code))
        if container.request.HostConfig.AutoRemove or not self._policy_restarts(
            container, code
        ):
            await self._run_poststop(container)
        self._exits.exited(cid, code)
        if container.request.HostConfig.AutoRemove:
            with contextlib.suppress(NotFound):
                await self.remove(cid, force=True, volumes=True)
        else:
            await self._apply_restart_policy(container, code)

    def _policy_restarts(self, container: Container, code: int) -> bool:
        """Whether the restart policy answers this exit with a new start."""
        if container.id in self._user_stopped:
            return False
        policy = container.request.HostConfig.RestartPolicy
        count = self._restarts.get(container.id, 0)
        return restart.should_restart(
            restart.Policy(policy.Name, policy.MaximumRetryCount), code, count
        )

    async def _run_poststop(self, container: Container) -> None:
        """The final exit of this start: its poststop hooks run, once."""
        hooks, container.poststop_hooks = container.poststop_hooks, []
        if not hooks:
            return
        async with self._lock(container.id):
            if self.store.get(container.id) is not None:
                self._save(container)
        bundle = (
            self.paths.home / "containerd" / "state" / "io.containerd.runtime.v2.task"
            / "default" / container.id
        )  # fmt: skip
        state = poststop.state_json(
            container.id, str(bundle), dict(container.request.Labels or {})
        )
        await poststop.run_hooks(hooks, state, container.id)

    async def _apply_restart_policy(self, container: Container, code: int) -> None:
        if not self._policy_restarts(container, code):
            return
        count = self._restarts.get(container.id, 0)
        await asyncio.sleep(restart.delay(count))
        self._restarts[container.id] = count + 1
        try:
            await self._start_locked(container.id, by_policy=True)
        except (NotFound, NotModified):
            return
        except PouchError as exc:
            log.warning("container %s: restart by policy failed: %s", container.id, exc)
            return
        log.info("container %s restarted by its policy (%d)", container.id, count + 1)

    async def _cleanup_exit(self, container: Container, code: int) -> None:
        if self.health is not None:
            self.health.unwatch(container.id)
        await self._delete_task(container.id)
        if container.request.OpenStdin and not container.request.Tty:
            # The shim waits for its own log program at the delete; this one is ours.
            await stdio.wait_fifo_logger(self.paths.container_dir(container.id))
        await self._delete_ctrd_container(container.id)
        await self._release_network(container)
        await shm.unmount(self.paths.container_dir(container.id))
        container.state = State(
            status=Status.EXITED,
            exit_code=code,
            started_at=container.state.started_at,
            finished_at=now_rfc3339(),
            health=container.state.health,
        )
        self._save(container)
        log.info("container %s exited with code %d", container.id, code)

    async def _delete_task(self, cid: str) -> None:
        try:
            await self.runtime.kill_task(cid, signals.SIGKILL, all=True)
        except ContainerdError:
            pass
        with contextlib.suppress(ContainerdError):
            await self.runtime.delete_task(cid)

    async def _delete_ctrd_container(self, cid: str) -> None:
        with contextlib.suppress(ContainerdError):
            await self.runtime.delete_container(cid)

    async def _release_network(self, container: Container) -> None:
        try:
            await self.networks.release(container.id)
        except Exception:
            log.exception("container %s: releasing its network failed", container.id)
        for info in container.networks:
            if info.endpoint_id:
                self._emit_endpoint(container.id, info, "disconnect")
        container.networks = [
            EndpointInfo(network=i.network, aliases=i.aliases)
            for i in container.networks
        ]
        container.ports = []

    # -- stop, kill, restart, remove ---------------------------------------------

    async def stop(self, ref: str, timeout: int | None = None) -> None:
        container = self.get(ref)
        if not container.running:
            raise NotModified(f"container {container.id} is already stopped")
        if timeout is None:
            timeout = container.request.StopTimeout
        if timeout is None:
            timeout = 10
        self._user_stopped.add(container.id)
        restart.mark_stopped(self.paths.container_dir(container.id), True)
        exited = self._exits.next_exit(container.id)
        stop_signal = createcheck.parse_signal(
            container.request.StopSignal or "SIGTERM"
        )
        self.emit(container, "kill", signal=str(stop_signal))
        await self._signal(container, stop_signal)
        try:
            await asyncio.wait_for(asyncio.shield(exited), timeout=max(timeout, 0))
        except TimeoutError:
            log.info("container %s: no exit after %ss, killing", container.id, timeout)
            self.emit(container, "kill", signal=str(int(signals.SIGKILL)))
            await self._signal(container, signals.SIGKILL, all_processes=True)
            await exited
        self.emit(container, "stop")

    async def kill(self, ref: str, signal: str = "SIGKILL") -> None:
        container = self.get(ref)
        number = createcheck.parse_signal(signal)
        if not container.running:
            raise Conflict(f"Container {container.id} is not running")
        self.emit(container, "kill", signal=str(number))
        # As dockerd does, a user's kill is an exit no restart policy undoes.
        self._user_stopped.add(container.id)
        restart.mark_stopped(self.paths.container_dir(container.id), True)
        try:
            await self._signal(container, number)
        except PouchError as exc:
            # Its task may be on its way out (a second kill right after the first):
            # then it is simply not running any more.
            if not await self._task_alive(container.id):
                raise Conflict(f"Container {container.id} is not running") from exc
            raise

    async def _task_alive(self, cid: str) -> bool:
        try:
            task = await self.runtime.get_task(cid)
        except ContainerdError:
            return False
        return bool(task.status in ("running", "paused", "created"))

    async def _signal(
        self, container: Container, number: int, all_processes: bool = False
    ) -> None:
        try:
            await self.runtime.kill_task(container.id, number, all=all_processes)
        except ContainerdNotFound:
            pass  # exited meanwhile; the watcher records it
        except ContainerdError as exc:
            raise PouchError(f"container {container.id}: cannot signal: {exc}") from exc

    async def restart(self, ref: str, timeout: int | None = None) -> None:
        container = self.get(ref)
        # Restarts that overlap each find it stopping or started by another: as
        # with dockerd, each still answers that the container was restarted.
        if container.running:
            with contextlib.suppress(NotModified):
                await self.stop(container.id, timeout)
        with contextlib.suppress(NotModified):
            await self.start(container.id)
        self.emit(container, "restart")

    async def remove(
        self, ref: str, force: bool = False, volumes: bool = False
    ) -> None:
        """``volumes`` removes the anonymous volumes made for the container too.

        A start may be under way when the remove comes: the state is checked again
        under the container's lock, and a task that started meanwhile is killed
        (outside the lock, which its exit needs) before anything is removed."""
        container = self.get(ref)
        while True:
            if container.running:
                await self._kill_for_remove(container, force)
            async with self._lock(container.id):
                if self.store.get(container.id) is None:
                    return  # its auto-remove, or another rm, got there first
                container = self.get(container.id)
                if container.running:
                    continue  # started while this remove waited for the lock
                await self._remove_locked(container, volumes)
                break
        self._locks.pop(container.id, None)
        if self.health is not None:
            self.health.unwatch(container.id)
        self._user_stopped.discard(container.id)
        self._restarts.pop(container.id, None)
        self.emit(container, "destroy")
        self._exits.removed(container.id, container.state.exit_code)
        log.info("container %s removed", container.id)

    async def _kill_for_remove(self, container: Container, force: bool) -> None:
        if not force:
            raise Conflict(
                f"You cannot remove a running container {container.id}. Stop the "
                "container before attempting removal or force remove"
            )
        self._user_stopped.add(container.id)
        exited = self._exits.next_exit(container.id)
        await self._signal(container, signals.SIGKILL, all_processes=True)
        # An exit that came before the wait was registered is seen by the caller's
        # check under the lock; the timeout only keeps this from waiting for it.
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(exited), _REMOVE_KILL_WAIT)

    async def _remove_locked(self, container: Container, volumes: bool) -> None:
        await self._release_network(container)
        await self._remove_rootfs(container.id)
        shutil.rmtree(self.paths.container_dir(container.id), ignore_errors=True)
        self.store.delete(container.id)
        if volumes:
            await self.volumes.remove_anonymous(container.mounts)

    async def resize(self, ref: str, width: int, height: int) -> None:
        container = self.get(ref)
        if width < 0 or height < 0:
            raise InvalidParameter(
                f"invalid size {width}x{height}: must not be negative"
            )
        if not container.running:
            raise Conflict(f"Container {container.id} is not running")
        if not container.request.Tty:
            return  # dockerd ignores a resize without a terminal too
        try:
            await self.runtime.resize_pty(container.id, width, height)
        except ContainerdError as exc:
            raise PouchError(f"container {container.id}: cannot resize: {exc}") from exc

    # -- wait, inspect, list, logs ----------------------------------------------

    async def wait(self, ref: str, condition: str = "not-running") -> int:
        container = self.get(ref)
        if condition == "removed":
            return await self._exits.removal(container.id)
        if condition == "next-exit":
            return await self._exits.next_exit(container.id)
        if condition not in ("", "not-running"):
            raise InvalidParameter(
                f"invalid condition {condition!r}: expected not-running, next-exit "
                "or removed"
            )
        if not container.running:
            return container.state.exit_code
        return await self._exits.next_exit(container.id)

    def wait_future(self, ref: str, condition: str) -> Awaitable[int]:
        """Like ``wait``, but the container is looked up now and the wait runs later:
        the API can answer 404 before it sends its headers."""
        self.get(ref)
        return self.wait(ref, condition)

    def inspect(self, ref: str) -> dict[str, Any]:
        return inspect_doc(self.get(ref))

    def list(
        self, all: bool = False, filters: dict[str, list[str]] | None = None
    ) -> list[dict[str, Any]]:  # noqa: E501
        chosen = [
            c
            for c in self.all()
            if (all or c.running) and matches_filters(c, filters or {})
        ]
        chosen.sort(key=lambda c: c.created, reverse=True)
        return [list_entry(c) for c in chosen]

    async def sizes(self, container: Container) -> tuple[int, int]:
        """(SizeRw, SizeRootFs) as dockerd gives them: the bytes the container has
        written, and those plus its image's."""
        try:
            mounts = await self.runtime.rootfs_mounts(container.id)
        except ContainerdError as exc:
            log.warning("container %s: no size: %s", container.id, exc)
            mounts = None
        dirs = _rootfs_dirs(mounts or [])
        written = await asyncio.to_thread(layerdirs.bytes_under, dirs[0]) if dirs else 0
        try:
            image = await self.images.resolve(container.image_id)
        except PouchError:
            return written, written
        return written, written + int(image.size)

    async def list_with_sizes(
        self, all: bool = False, filters: dict[str, builtins.list[str]] | None = None
    ) -> builtins.list[dict[str, Any]]:
        """``list`` with SizeRw and SizeRootFs in each entry (``?size=1``)."""
        entries = self.list(all, filters)
        for entry in entries:
            with contextlib.suppress(NotFound):
                container = self.get(entry["Id"])
                entry["SizeRw"], entry["SizeRootFs"] = await self.sizes(container)
        return entries

    def logs(
        self,
        ref: str,
        *,
        follow: bool,
        stdout: bool,
        stderr: bool,
        tail: int | None,
        since: float,
        until: float,
        timestamps: bool,
    ) -> tuple[Container, AsyncIterator[Any]]:
        container = self.get(ref)
        stop = asyncio.Event()
        # A followed container that has never started streams until its first exit,
        # so a client may open the stream before it starts the container.
        never_started = container.state.status == Status.CREATED
        if not (follow and (container.running or never_started)):
            stop.set()
        else:
            exited = self._exits.next_exit(container.id)
            exited.add_done_callback(lambda _: stop.set())
        path = self._log_to_read(container, follow=follow, tail=tail)
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.touch()
        entries = jsonlog.read_logs(
            path,
            follow=follow,
            tail=tail,
            stdout=stdout,
            stderr=stderr,
            since=since,
            until=until,
            timestamps=timestamps,
            stop=stop,
        )
        return container, entries

    def _log_to_read(
        self, container: Container, *, follow: bool, tail: int | None
    ) -> Path:
        """The log; for a container that keeps none, the buffer its output passes
        through, only to follow from its end as attach does: any history is
        refused as dockerd refuses ``logs`` of the none driver."""
        if container.log_path:
            return Path(container.log_path)
        if not (follow and tail == 0):
            raise logconfig.LogsNotSupported()
        return logconfig.buffer_path(self.paths.container_dir(container.id))

    # -- daemon start and stop ------------------------------------------------------

    async def restore(self) -> None:
        """Re-adopts the tasks that kept running while the daemon was away, and records
        the exits of those that did not."""
        self.volumes.clean_leftovers()
        for container in self.all():
            if container.running:
                await self._readopt(container)
            elif container.request.HostConfig.AutoRemove:
                await self.remove(container.id, force=True, volumes=True)
            else:
                await self._start_by_policy(container)

    async def _start_by_policy(self, container: Container) -> None:
        """At daemon start, ``always`` and ``unless-stopped`` containers run again.

        Restore runs before the daemon serves the network hook's socket, so the
        start happens in the background and is retried while the daemon comes up.
        """
        if self._starts_with_daemon(container):
            task = asyncio.create_task(self._start_when_up(container.id))
            self._watchers.setdefault("start:" + container.id, task)

    def _starts_with_daemon(self, container: Container) -> bool:
        policy = container.request.HostConfig.RestartPolicy
        directory = self.paths.container_dir(container.id)
        return restart.starts_with_daemon(restart.Policy(policy.Name), directory)

    async def _start_when_up(self, cid: str) -> None:
        try:
            for attempt in range(_POLICY_START_TRIES):
                await asyncio.sleep(_POLICY_START_PAUSE)
                try:
                    await self._start_locked(cid, by_policy=True)
                    return
                except (NotFound, NotModified):
                    return
                except PouchError as exc:
                    if attempt == _POLICY_START_TRIES - 1:
                        log.warning(
                            "container %s: start by policy failed: %s", cid, exc
                        )  # noqa: E501
        finally:
            self._watchers.pop("start:" + cid, None)

    async def _readopt(self, container: Container) -> None:
        try:
            task = await self.runtime.get_task(container.id)
        except ContainerdNotFound:
            task = None
        if task is not None and task.status in ("running", "paused", "created"):
            container.state.pid = task.pid
            if self.health is not None:
                self.health.watch(container, fresh=False)
            self._save(container)
            self._watch(container.id, self.runtime.wait_task(container.id))
            await self._readopt_network(container)
            log.info("container %s re-adopted, pid %d", container.id, task.pid)
            return
        code = getattr(getattr(task, "exit_status", None), "code", 255)
        await self._cleanup_exit(container, int(code) if task is not None else 255)
        # It exited while the daemon was away: that was its final exit unless the
        # daemon's start starts it again, so its poststop hooks are still owed.
        auto_remove = container.request.HostConfig.AutoRemove
        if auto_remove or not self._starts_with_daemon(container):
            await self._run_poststop(container)
        if auto_remove:
            await self.remove(container.id, force=True, volumes=True)
        else:
            await self._start_by_policy(container)

    async def _readopt_network(self, container: Container) -> None:
        """The DNS server and port listeners of a re-adopted container; its
        interfaces, addresses and rules outlived the daemon."""
        try:
            await self.networks.readopt(
                container.id,
                container.state.pid,
                createcheck.file_options(container.request),
            )
        except Exception:
            log.exception("container %s: its network was not re-adopted", container.id)

    async def close(self) -> None:
        """Stops watching; the tasks themselves keep running in their shims."""
        for watcher in list(self._watchers.values()):
            watcher.cancel()
        for watcher in list(self._watchers.values()):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await watcher
        self._watchers.clear()
        if self.health is not None:
            await self.health.close()
        self.volumes.close()


def check_host(host: HostSettings) -> None:
    """The rules of ``HostConfig`` that create and update share."""
    policy = host.RestartPolicy
    restart.check(policy.Name, policy.MaximumRetryCount)
    try:
        hostopts.check(host)
    except hostopts.HostOptionError as exc:
        raise InvalidParameter(str(exc)) from exc
    if host.Memory < 0:
        raise InvalidParameter(
            f"invalid HostConfig.Memory {host.Memory}: must not be negative"
        )
    if 0 < host.Memory < MIN_MEMORY:
        raise InvalidParameter("Minimum memory limit allowed is 6MB")
    for field_name in ("CpuShares", "CpuQuota", "CpuPeriod"):
        if getattr(host, field_name) < 0:
            raise InvalidParameter(
                f"invalid HostConfig.{field_name} {getattr(host, field_name)}: "
                "must not be negative"
            )


def _decode(body: bytes) -> CreateRequest:
    return parse_model(CreateRequest, decode_object(body, "create request"),
                       "create request")  # fmt: skip


def _resolve_command(request: CreateRequest, image: Any) -> list[str]:
    try:
        return resolve_command(request, image.config.get("config") or {})
    except SpecError as exc:
        raise InvalidParameter(str(exc)) from exc


def _mount_plan(request: CreateRequest, image: Any) -> list[mounts.MountRequest]:
    """The request's mounts, checked; with ``image``, the anonymous volumes of its
    ``VOLUME``s too."""
    config = (image.config.get("config") or {}) if image is not None else {}
    volumes = config.get("Volumes")
    image_volumes = [str(path) for path in volumes] if isinstance(volumes, dict) else []
    try:
        return mounts.plan(request, image_volumes)
    except mounts.MountError as exc:
        raise InvalidParameter(str(exc)) from exc


def _make_bind_sources(container: Container) -> None:
    """A ``-v`` bind's missing host directory is made at start, as docker makes it."""
    for point in container.mounts:
        if point.type == "bind" and point.make_source:
            if os.path.lexists(point.source):
                continue
            try:
                os.makedirs(point.source, mode=0o755)
            except OSError as exc:
                raise PouchError(
                    f"container {container.id}: cannot make the bind source "
                    f"{point.source}: {exc}"
                ) from exc


def _spec_mount(point: MountPoint) -> Mount:
    return Mount(
        destination=point.destination,
        source=point.source,
        type="tmpfs" if point.type == "tmpfs" else "bind",
        read_only=point.read_only,
        propagation=point.propagation,
        recursive=not point.non_recursive,
        options=tuple(point.options),
    )


def _network_names(request: CreateRequest) -> list[str]:
    mode = request.HostConfig.NetworkMode
    first = "bridge" if mode in ("", "default") else mode
    extra = list(
        (request.NetworkingConfig and request.NetworkingConfig.EndpointsConfig) or {}
    )  # noqa: E501
    # The docker CLI names the default network "default" in EndpointsConfig too.
    extra = ["bridge" if n == "default" else n for n in extra]
    return [first] + [n for n in extra if n != first]


def _hostname(request: CreateRequest, cid: str) -> str:
    """The name asked for; the host's with the host's network or UTS namespace, as
    dockerd gives it; else the short id."""
    host = request.HostConfig
    if request.Hostname:
        return request.Hostname
    if host.NetworkMode == "host" or host.UTSMode == "host":
        return socket.gethostname()
    return cid[:12]


def _shares_netns(mode: str) -> bool:
    return mode.startswith(hostopts.CONTAINER_MODE)


def _name_conflict(name: str, holder: str) -> Conflict:
    return Conflict(
        f'Conflict. The container name "/{name}" is already in use by container '
        f'"{holder}". You have to remove (or rename) that container to be able to '
        "reuse that name."
    )


def _endpoint_info(name: str, network: Any, endpoint: Any) -> EndpointInfo:
    return EndpointInfo(
        network=name,
        network_id=network.id,
        endpoint_id=endpoint.id,
        ip_address=endpoint.ip,
        prefix_len=endpoint.prefix_len,
        gateway=endpoint.gateway,
        mac_address=endpoint.mac,
        priority=endpoint.priority,
        disable_resolver=endpoint.disable_resolver,
        generic_params=dict(endpoint.generic_params or {}),
    )


def _rootfs_dirs(mounts: list[Any]) -> list[Path]:
    """The overlay's upper directory, then its lower ones, from the mount options."""
    dirs: list[Path] = []
    for mount in mounts:
        options = list(getattr(mount, "options", []) or [])
        if getattr(mount, "type", "") == "bind":
            dirs.append(Path(getattr(mount, "source", "")))
        for option in options:
            key, _, value = option.partition("=")
            if key == "upperdir":
                dirs.insert(0, Path(value))
            elif key == "lowerdir":
                dirs.extend(Path(p) for p in value.split(":"))
    return dirs
