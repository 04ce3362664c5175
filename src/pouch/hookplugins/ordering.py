"""Where each OCI hook goes.

The daemon adds hooks of its own (the network set-up hook first, in ``prestart``);
plugins and hooks.d files add hooks with priorities and a stage. The daemon's hooks
take priorities 0, -1, -2, ... in the order it adds them, and every hook is then sorted
by priority, highest first. The sort is stable and the daemon's hooks come first in
the input, so at equal priority a daemon hook runs before a plugin hook, and plugin
hooks keep the order in which the plugins gave them. A ``prestart`` priority above 0
therefore runs before the network is set up; 0 or below, after it. The same rule
orders each of the other stages on its own.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

# The OCI runtime spec's hook stages, in the order a container meets them.
# ``poststop`` hooks are run by the daemon at a container's final exit rather than
# by runc at every task delete (see ``poststop``).
STAGES = (
    "prestart",
    "createRuntime",
    "createContainer",
    "startContainer",
    "poststart",
    "poststop",
)


@dataclass(frozen=True)
class Hook:
    """One OCI hook: the executable's path, its argv (argv[0] included), its
    environment (None: runc gives it an empty one), a timeout in seconds, its stage."""

    path: str
    args: list[str] = field(default_factory=list)
    priority: int = 0
    env: list[str] | None = None
    timeout: int | None = None
    stage: str = "prestart"

    def to_oci(self) -> dict[str, Any]:
        # A list-form plugin hook has env None and so no ``env`` key: runc then runs
        # it in runc's own environment. Its spec shape is part of the first plugin
        # contract (pinned in tests/integration/test_plugins.py); the mapping form
        # and hook files always set ``env``.
        doc: dict[str, Any] = {"path": self.path, "args": list(self.args)}
        if self.env is not None:
            doc["env"] = list(self.env)
        if self.timeout is not None:
            doc["timeout"] = self.timeout
        return doc


def order_hooks(daemon_hooks: list[Hook], plugin_hooks: list[Hook]) -> list[Hook]:
    """The daemon's hooks (priorities assigned here) and the plugins', in run order."""
    ranked = [
        dataclasses.replace(hook, priority=-index)
        for index, hook in enumerate(daemon_hooks)
    ]
    return sorted(ranked + plugin_hooks, key=lambda hook: -hook.priority)


def by_stage(hooks: list[Hook]) -> dict[str, list[dict[str, Any]]]:
    """The spec's ``hooks`` section: ``prestart`` always, other stages when used,
    each keeping the run order of ``hooks``."""
    section: dict[str, list[dict[str, Any]]] = {"prestart": []}
    for hook in hooks:
        section.setdefault(hook.stage, []).append(hook.to_oci())
    return section
