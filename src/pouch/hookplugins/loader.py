"""Loading a plugin: a Python file path or an importable module name.

A plugin module offers up to two objects, looked up by name: ``DaemonPlugin`` (points
``pre_start_hook`` and ``pre_stop_hook``) and ``ContainerPlugin`` (``pre_create``,
``pre_start``, ``pre_create_endpoint``). Either may be a class, which is instantiated
with no arguments, or any object with the methods. A plugin with neither object, a
missing file or an import error is a load error, which stops the daemon at start.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import sys
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

DAEMON_POINTS = ("pre_start_hook", "pre_stop_hook")
CONTAINER_POINTS = ("pre_create", "pre_start", "pre_create_endpoint")


class PluginLoadError(Exception):
    """A plugin could not be loaded; the message names it."""


@dataclass
class Plugin:
    """A loaded plugin: its name (as given on the command line) and its two objects."""

    name: str
    daemon: Any = None
    container: Any = None
    points: list[str] = field(default_factory=list)

    def method(self, point: str) -> Any:
        """The plugin's callable for a point, or None if it does not implement it."""
        owner = self.daemon if point in DAEMON_POINTS else self.container
        return getattr(owner, point, None) if owner is not None else None


def load_plugin(spec: str) -> Plugin:
    module = _import(spec)
    daemon = _instance(getattr(module, "DaemonPlugin", None))
    container = _instance(getattr(module, "ContainerPlugin", None))
    if daemon is None and container is None:
        raise PluginLoadError(
            f"plugin {spec}: defines neither DaemonPlugin nor ContainerPlugin"
        )
    plugin = Plugin(name=spec, daemon=daemon, container=container)
    all_points = DAEMON_POINTS + CONTAINER_POINTS
    plugin.points = [p for p in all_points if callable(plugin.method(p))]
    return plugin


def _import(spec: str) -> ModuleType:
    looks_like_path = spec.endswith(".py") or "/" in spec
    try:
        if looks_like_path:
            return _import_file(Path(spec))
        return importlib.import_module(spec)
    except PluginLoadError:
        raise
    except Exception as exc:  # any error in the plugin's own module code
        raise PluginLoadError(f"plugin {spec}: cannot be imported: {exc!r}") from exc


def _import_file(path: Path) -> ModuleType:
    if not path.is_file():
        raise PluginLoadError(f"plugin {path}: no such file")
    resolved = path.resolve()
    # A private module name per file, so two plugins with one file name both load.
    digest = hashlib.sha256(str(resolved).encode()).hexdigest()[:12]
    name = f"pouch_plugin_{resolved.stem}_{digest}"
    spec = importlib.util.spec_from_file_location(name, resolved)
    if spec is None or spec.loader is None:
        raise PluginLoadError(f"plugin {path}: not a Python module")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[name]
        raise
    return module


def _instance(obj: Any) -> Any:
    return obj() if isinstance(obj, type) else obj
