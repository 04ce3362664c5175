"""The plugin framework: operator code that pouchd loads and calls at five points.

- ``loader``: finding a plugin (a file or a module) and its two objects.
- ``manager``: calling the points, in plugin order, with their failure rules.
- ``ordering``: where plugin hooks go among the daemon's own prestart hooks.

Called by ``daemon`` and ``mgr``; reaches into no other layer.
"""

from pouch.hookplugins.loader import Plugin, PluginLoadError, load_plugin
from pouch.hookplugins.manager import EndpointChoice, PluginManager
from pouch.hookplugins.ordering import Hook, order_hooks

__all__ = [
    "EndpointChoice",
    "Hook",
    "Plugin",
    "PluginLoadError",
    "PluginManager",
    "load_plugin",
    "order_hooks",
]
