"""Where each prestart hook goes.

The daemon adds hooks of its own (the network set-up hook first); plugins add hooks
with priorities. The daemon's hooks take priorities 0, -1, -2, ... in the order it adds
them, and every hook is then sorted by priority, highest first. The sort is stable and
the daemon's hooks come first in the input, so at equal priority a daemon hook runs
before a plugin hook, and plugin hooks keep the order in which the plugins gave them.
A priority above 0 therefore runs before the network is set up; 0 or below, after it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Hook:
    """One OCI hook: the executable's path and its argv (argv[0] included)."""

    path: str
    args: list[str] = field(default_factory=list)
    priority: int = 0

    def to_oci(self) -> dict[str, Any]:
        return {"path": self.path, "args": list(self.args)}


def order_hooks(daemon_hooks: list[Hook], plugin_hooks: list[Hook]) -> list[Hook]:
    """The daemon's hooks (priorities assigned here) and the plugins', in run order."""
    ranked = [
        Hook(hook.path, hook.args, priority=-index)
        for index, hook in enumerate(daemon_hooks)
    ]
    return sorted(ranked + plugin_hooks, key=lambda hook: -hook.priority)
