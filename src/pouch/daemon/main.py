"""pouchd's life: what starts in which order, and what stops in which.

Start: config, logging, plugins loaded, containerd started (or reached), store opened,
``pre_start_hook``, network ready, containers re-adopted, the setkey socket, the API.
Stop (SIGTERM, SIGINT): stop serving, ``pre_stop_hook``, stop watching tasks, stop the
containerd we started. Containers keep running in their shims and are re-adopted at
the next start.
Reload (SIGHUP): the config file, the plugin set and the hook files are read again;
the new set replaces the old only if every part of it loads (``_reload``).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import os
import shutil
import signal
import sys
from pathlib import Path
from typing import Any

from pouch.daemon.config import ConfigError, DaemonConfig, load
from pouch.daemon.output import capture_stdout

log = logging.getLogger("pouch.daemon")


class StartError(Exception):
    """The daemon cannot start; the message says why."""


def run(argv: list[str]) -> int:
    try:
        config = load(argv)
    except ConfigError as exc:
        print(f"pouchd: {exc}", file=sys.stderr)
        return 1
    _setup_logging(config.log_level)
    try:
        return asyncio.run(Daemon(config).run())
    except StartError as exc:
        log.error("%s", exc)
        print(f"pouchd: {exc}", file=sys.stderr)
        return 1


def _setup_logging(level: str) -> None:
    logging.basicConfig(
        level=level.upper(),
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    for handler in logging.getLogger().handlers:
        handler.addFilter(_quiet_libraries)
    capture_stdout(logging.getLogger("pouch.plugin"))


def _quiet_libraries(record: logging.LogRecord) -> bool:
    """Libraries' own debug chatter (netlink messages, HTTP access) stays out."""
    ours = record.name.startswith("pouch")
    return ours or record.levelno >= logging.WARNING


def pouchd_executable() -> str:
    """The path hooks and the log program run: this very executable."""
    found = shutil.which("pouchd", path=os.path.dirname(sys.executable))
    return found or os.path.abspath(sys.argv[0])


def _plugin_config(config: DaemonConfig) -> Any:
    """The plugin part of the config; StartError naming the bad entry."""
    from pouch.hookplugins.assemble import PluginConfig
    from pouch.hookplugins.settings import SettingsError, from_config

    try:
        plugins = [from_config(entry) for entry in config.plugins]
    except SettingsError as exc:
        raise StartError(str(exc)) from exc
    return PluginConfig(
        plugins=plugins,
        socket_dir=Path(config.plugin_socket_dir) if config.plugin_socket_dir else None,
        spec_dir=Path(config.plugin_spec_dir) if config.plugin_spec_dir else None,
        hook_dirs=[Path(d) for d in config.hooks_dirs],
    )


def _registries(config: DaemonConfig) -> Any:
    from pouch.registry.config import RegistryConfig

    return RegistryConfig(
        mirrors=list(config.registry_mirrors),
        insecure=list(config.insecure_registries),
        certs_dir=Path(config.registry_certs_dir),
    )


def controller_id(home_dir: Path) -> str:
    return hashlib.sha256(str(home_dir).encode()).hexdigest()


class Daemon:
    def __init__(self, config: DaemonConfig) -> None:
        self.config = config
        self._stack = contextlib.AsyncExitStack()
        self._stopping = asyncio.Event()
        self._exit_code = 0
        self._plugins: Any = None
        self._reloading: asyncio.Task[None] | None = None

    def _on_stop_signal(self) -> None:
        """The first SIGTERM or SIGINT stops in order; a second one, sent because that
        order is stuck, exits at once (containers keep running in their shims, and
        the containerd left behind is taken over at the next start)."""
        if not self._stopping.is_set():
            self._stopping.set()
            return
        log.warning("second stop signal: exiting now")
        logging.shutdown()
        os._exit(1)

    async def run(self) -> int:
        async with self._stack:
            await self._start()
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGTERM, signal.SIGINT):
                loop.add_signal_handler(sig, self._on_stop_signal)
            loop.add_signal_handler(signal.SIGHUP, self._on_sighup)
            log.info("pouchd is up, home dir %s", self.config.home_dir)
            await self._stopping.wait()
            log.info("pouchd is stopping")
            if self._reloading is not None:
                await asyncio.gather(self._reloading, return_exceptions=True)
        log.info("pouchd stopped")
        return self._exit_code

    async def _start(self) -> None:
        config = self.config
        plugins = await self._plugin_set()

        home = config.home_dir
        home.mkdir(parents=True, exist_ok=True)
        runtime, version = await self._containerd()
        store = self._store()
        await self._pre_start_hook(plugins)
        networks = await self._networks()
        containers = await self._containers(store, runtime, networks, plugins)
        await self._setkey(networks)
        await self._api(containers, plugins, version)

    async def _containerd(self) -> tuple[object, str]:
        from pouch.ctrd.client import Containerd
        from pouch.ctrd.errors import ContainerdError
        from pouch.ctrd.supervisor import ContainerdProcess

        address = self.config.containerd
        if not address:
            process = ContainerdProcess(self.config.home_dir)
            try:
                await process.start()
            except ContainerdError as exc:
                raise StartError(f"cannot start containerd: {exc}") from exc
            self._stack.push_async_callback(process.stop)
            address = str(process.address)
        try:
            runtime = await Containerd.connect(address)
            version = await runtime.version()
        except ContainerdError as exc:
            raise StartError(f"cannot reach containerd at {address}: {exc}") from exc
        self._stack.push_async_callback(runtime.close)
        log.info("containerd %s at %s", version, address)
        return runtime, version

    def _store(self) -> object:
        from pouch.store.db import Store

        store = Store(self.config.home_dir / "pouchd.db")
        self._stack.callback(store.close)
        return store

    async def _plugin_set(self) -> Any:
        from pouch.hookplugins import PluginLoadError, PluginManager
        from pouch.hookplugins.assemble import assemble, runtime_stages

        stages = runtime_stages()
        try:
            made = await assemble(_plugin_config(self.config), stages=stages)
        except PluginLoadError as exc:
            raise StartError(str(exc)) from exc
        plugins = PluginManager(made.plugins, stages=stages, hook_files=made.hook_files)
        for plugin in plugins.plugins:
            log.info(
                "plugin %s (%s) loaded, points %s",
                plugin.name,
                plugin.kind,
                plugin.points,
            )
        self._plugins = plugins
        self._stack.push_async_callback(self._close_plugins)
        return plugins

    async def _close_plugins(self) -> None:
        for plugin in self._plugins.plugins:
            await plugin.close()

    async def _pre_start_hook(self, plugins: object) -> None:
        from pouch.errors import PluginError
        from pouch.hookplugins import PluginManager

        assert isinstance(plugins, PluginManager)
        try:
            await plugins.pre_start_hook()
        except PluginError as exc:
            raise StartError(str(exc)) from exc
        # Registered now so it runs after the API stops serving and before the
        # containerd we started stops (the stack unwinds in reverse).
        self._stack.push_async_callback(self._pre_stop_hook, plugins)

    async def _pre_stop_hook(self, plugins: Any) -> None:
        """Shutdown goes on whatever the plugins do; a failure under policy ``fail``
        makes the exit status 1."""
        if await plugins.pre_stop_hook():
            self._exit_code = 1

    # -- reload ---------------------------------------------------------------------

    def _on_sighup(self) -> None:
        if self._reloading is not None and not self._reloading.done():
            log.info("reload already in progress; SIGHUP ignored")
            return
        self._reloading = asyncio.create_task(self._reload())

    async def _reload(self) -> None:
        """The config file, plugins and hook files read again. Nothing running is
        touched: containers keep their specs; the next create and start see the new
        set. A broken part refuses the whole reload, and the old set stays."""
        from pouch.daemon.config import ConfigError
        from pouch.errors import PluginError
        from pouch.hookplugins import PluginLoadError
        from pouch.hookplugins.assemble import assemble

        plugins = self._plugins
        try:
            config = load(self.config.argv)
            wanted = _plugin_config(config)
            made = await assemble(wanted, plugins.plugins, plugins.stages)
        except (ConfigError, PluginLoadError, StartError) as exc:
            log.error("reload refused, the old configuration stays: %s", exc)
            return
        try:
            await plugins.pre_start_hook(made.added)
        except PluginError as exc:
            log.error("reload refused, the old configuration stays: %s", exc)
            for plugin in made.added:
                await plugin.close()
            return
        made.commit()
        plugins.replace(made.plugins, made.hook_files)
        self.config.plugins = config.plugins
        await plugins.pre_stop_hook(made.removed)
        for plugin in made.removed:
            await plugin.close()
        log.info(
            "reloaded: plugins %s, %d hook files",
            [p.name for p in made.plugins],
            len(made.hook_files.files),
        )

    async def _networks(self) -> object:
        from pouch.network.controller import NetworkController

        config = self.config
        networks = NetworkController(
            config.home_dir / "pouchd.db",
            bridge_name=config.bridge_name,
            bip=config.bip,
            home_dir=config.home_dir,
            controller_id=controller_id(config.home_dir),
        )
        await networks.start()
        self._stack.push_async_callback(networks.close)
        return networks

    async def _containers(
        self, store: object, runtime: object, networks: object, plugins: object
    ) -> object:
        from pouch.mgr.container import ContainerManager, Paths
        from pouch.mgr.exec import ExecManager
        from pouch.mgr.health import HealthMonitor

        paths = Paths(home=self.config.home_dir, pouchd=pouchd_executable())
        manager = ContainerManager(
            store,  # type: ignore[arg-type]
            runtime,  # type: ignore[arg-type]
            networks,  # type: ignore[arg-type]
            plugins,  # type: ignore[arg-type]
            paths,
        )
        manager.images.registries = _registries(self.config)
        manager.health = HealthMonitor(manager, ExecManager(manager))
        await manager.restore()
        self._stack.push_async_callback(manager.close)
        return manager

    async def _setkey(self, networks: object) -> None:
        from pouch.network import setkey

        cid = controller_id(self.config.home_dir)
        server = await setkey.serve(cid, networks.join)  # type: ignore[attr-defined]
        self._stack.push_async_callback(setkey.close_server, server, cid)

    async def _api(self, containers: object, plugins: object, version: str) -> None:
        from pouch.apis.context import ApiContext
        from pouch.apis.server import build_app, serve

        ctx = ApiContext(
            containers=containers,  # type: ignore[arg-type]
            plugins=plugins,  # type: ignore[arg-type]
            home_dir=self.config.home_dir,
            containerd_version=version,
        )
        try:
            runner = await serve(build_app(ctx), self.config.listen)
        except (OSError, ValueError) as exc:
            raise StartError(f"cannot listen: {exc}") from exc
        self._stack.push_async_callback(runner.cleanup)
