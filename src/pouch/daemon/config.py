"""Flags and the config file. The file's keys mirror the long flags; flags win."""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass, field
from pathlib import Path

DEFAULT_CONFIG = "/etc/pouch/config.json"


@dataclass
class DaemonConfig:
    home_dir: Path = Path("/var/lib/pouch")
    listen: list[str] = field(default_factory=lambda: ["unix:///var/run/pouchd.sock"])
    plugins: list[str] = field(default_factory=list)
    containerd: str = ""
    log_level: str = "info"
    bip: str = "192.168.5.1/24"
    bridge_name: str = "p0"


class ConfigError(Exception):
    pass


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="pouchd", description="The pouch daemon.")
    p.add_argument("--config-file", default=DEFAULT_CONFIG)
    p.add_argument("--home-dir")
    p.add_argument("-l", "--listen", action="append")
    p.add_argument("--plugin", action="append", dest="plugin")
    p.add_argument("--containerd", help="address of a running containerd to use")
    p.add_argument("--log-level", choices=["debug", "info", "warning", "error"])
    p.add_argument("--bip", help="address and prefix of the default bridge")
    p.add_argument("--bridge-name", help="device name of the default bridge")
    return p


# config-file key -> attribute
_KEYS = {
    "home-dir": "home_dir",
    "listen": "listen",
    "plugin": "plugins",
    "plugins": "plugins",
    "containerd": "containerd",
    "log-level": "log_level",
    "bip": "bip",
    "bridge-name": "bridge_name",
}


def load(argv: list[str]) -> DaemonConfig:
    args = parser().parse_args(argv)
    config = DaemonConfig()
    explicit = "--config-file" in " ".join(argv)
    _apply_file(config, Path(args.config_file), required=explicit)
    for attr, value in (
        ("home_dir", args.home_dir),
        ("listen", args.listen),
        ("plugins", args.plugin),
        ("containerd", args.containerd),
        ("log_level", args.log_level),
        ("bip", args.bip),
        ("bridge_name", args.bridge_name),
    ):
        if value is not None:
            setattr(config, attr, value)
    config.home_dir = Path(config.home_dir).resolve()
    return config


def _apply_file(config: DaemonConfig, path: Path, required: bool) -> None:
    if not path.exists():
        if required:
            raise ConfigError(f"config file {path}: no such file")
        return
    try:
        text = path.read_text()
        data = json.loads(text) if text.strip() else {}
    except ValueError as exc:
        raise ConfigError(f"config file {path}: invalid JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"config file {path}: must hold a JSON object")
    for key, value in data.items():
        attr = _KEYS.get(key)
        if attr is None:
            raise ConfigError(f"config file {path}: unknown key {key!r}")
        if attr in ("listen", "plugins") and isinstance(value, str):
            value = [value]
        setattr(config, attr, value)
