"""Putting the plugin set together, at start and again on every reload.

The set is: the plugins named in the config (in that order), then the sockets found
in the plugin socket directory, then the spec files in the plugin spec directory
(each by file name). A plugin already in the old set (same path) is kept, with its
new settings: a Python module is not imported twice, and a process plugin is
activated anew. Only plugins that are new get ``pre_start_hook``; the caller calls
``pre_stop_hook`` on the ones that left.

A plugin found in those directories whose socket no process listens on (one that
died and left its socket behind, or is not up yet) is left out with a warning, and
the next reload looks again; one named in the config is a load error.
"""

from __future__ import annotations

import json
import logging
import subprocess
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from pouch.hookplugins import remote
from pouch.hookplugins.hooksd import HookSet, load_dirs
from pouch.hookplugins.loader import PluginLoadError, load_plugin
from pouch.hookplugins.manager import AnyPlugin
from pouch.hookplugins.ordering import STAGES
from pouch.hookplugins.settings import PluginSettings

log = logging.getLogger("pouch.plugin")

# What runc did before it could report its features (``runc features``, 1.1+).
OLD_RUNC_STAGES = ("prestart", "poststart", "poststop")


@dataclass
class PluginConfig:
    """The parts of the daemon's config that make the plugin set."""

    plugins: list[PluginSettings] = field(default_factory=list)
    socket_dir: Path | None = None
    spec_dir: Path | None = None
    hook_dirs: list[Path] = field(default_factory=list)


@dataclass
class Assembled:
    plugins: list[AnyPlugin]
    added: list[AnyPlugin]
    removed: list[AnyPlugin]
    hook_files: HookSet
    # New settings of plugins kept from the old set, applied only by ``commit``, so
    # a reload refused after assembling leaves the old set exactly as it was.
    settings: list[tuple[AnyPlugin, PluginSettings]] = field(default_factory=list)

    def commit(self) -> None:
        for plugin, settings in self.settings:
            plugin.settings = settings


async def assemble(
    config: PluginConfig,
    current: Sequence[AnyPlugin] = (),
    stages: Collection[str] = STAGES,
) -> Assembled:
    """The new set; PluginLoadError (and nothing changed) if any part is broken."""
    from pouch.hookplugins.hooksd import HookFileError

    try:
        hook_files = load_dirs(config.hook_dirs, stages)
    except HookFileError as exc:
        raise PluginLoadError(str(exc)) from exc
    found = remote.discover(config.socket_dir, config.spec_dir)
    named = {settings.path for settings in config.plugins}
    optional = {settings.path for settings in found} - named
    wanted = list(config.plugins) + found
    old = {p.name: p for p in current}
    chosen: list[AnyPlugin] = []
    added: list[AnyPlugin] = []
    kept: list[tuple[AnyPlugin, PluginSettings]] = []
    try:
        for settings in _unique(wanted):
            plugin = old.get(settings.path)
            if plugin is None:
                try:
                    plugin = await _load(settings)
                except remote.PluginUnreachable as exc:
                    if settings.path not in optional:
                        raise
                    log.warning("%s; left out until a reload finds it up", exc)
                    continue
                added.append(plugin)
            else:
                await _reactivate(plugin)
                kept.append((plugin, settings))
            chosen.append(plugin)
    except PluginLoadError:
        for plugin in added:
            await plugin.close()
        raise
    names = {p.name for p in chosen}
    removed = [p for p in current if p.name not in names]
    return Assembled(chosen, added, removed, hook_files, kept)


def _unique(wanted: list[PluginSettings]) -> list[PluginSettings]:
    seen: dict[str, PluginSettings] = {}
    for settings in wanted:
        seen.setdefault(settings.path, settings)
    return list(seen.values())


async def _load(settings: PluginSettings) -> AnyPlugin:
    if remote.is_remote(settings.path):
        return await remote.connect(settings)
    return load_plugin(settings)


async def _reactivate(plugin: AnyPlugin) -> None:
    """A process plugin kept in the set is asked again for its points."""
    if isinstance(plugin, remote.RemotePlugin):
        try:
            await remote.activate_in_time(plugin)
        except (remote.RemoteError, TimeoutError) as exc:
            raise PluginLoadError(
                f"plugin {plugin.name}: activation failed: {remote.describe(exc)}"
            ) from exc


def runtime_stages(runc: str = "runc") -> tuple[str, ...]:
    """The hook stages the installed runc runs, as ``runc features`` reports them."""
    try:
        out = subprocess.run(
            [runc, "features"], capture_output=True, text=True, timeout=10, check=True
        ).stdout
        hooks = json.loads(out).get("hooks") or []
    except (OSError, subprocess.SubprocessError, ValueError, AttributeError):
        log.info("runc features unavailable; assuming hook stages %s", OLD_RUNC_STAGES)
        return OLD_RUNC_STAGES
    return tuple(s for s in STAGES if s in hooks)
