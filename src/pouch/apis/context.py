"""What the routes reach: the managers and a few facts about the daemon."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from pouch.hookplugins import PluginManager
from pouch.mgr.container import ContainerManager


@dataclass
class ApiContext:
    containers: ContainerManager
    plugins: PluginManager
    home_dir: Path
    containerd_version: str = ""
