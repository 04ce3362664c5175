"""The plugin framework: operator code that pouchd loads and calls at five points.

- ``settings``: timeouts and failure policies, per plugin and point.
- ``loader``: finding an in-process plugin (a file or a module) and its two objects.
- ``remote``: plugins in other processes, over HTTP on a unix socket.
- ``assemble``: the plugin set from the config, at start and on reload.
- ``manager``: calling the points, in plugin order, bounded and judged by policy.
- ``results``: the shape each point's result must have.
- ``ordering``: where plugin hooks go among the daemon's own, stage by stage.
- ``hooksd``: OCI hook files (oci-hooks(5)) and their conditions.
- ``stats``: call counts, errors and latency.

Called by ``daemon``, ``mgr`` and ``apis``; reaches into no other layer.
"""

from pouch.hookplugins.loader import Plugin, PluginLoadError, load_plugin
from pouch.hookplugins.manager import EndpointChoice, PluginManager
from pouch.hookplugins.ordering import STAGES, Hook, by_stage, order_hooks

__all__ = [
    "STAGES",
    "EndpointChoice",
    "Hook",
    "Plugin",
    "PluginLoadError",
    "PluginManager",
    "by_stage",
    "load_plugin",
    "order_hooks",
]
