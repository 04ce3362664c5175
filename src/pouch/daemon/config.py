"""Flags and the config file. The file's keys mirror the long flags; flags win."""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

DEFAULT_CONFIG = "/etc/pouch/config.json"


@dataclass
class DaemonConfig:
    home_dir: Path = Path("/var/lib/pouch")
    listen: list[str] = field(default_factory=lambda: ["unix:///var/run/pouchd.sock"])
    # Each a spec string (PATH[,timeout=S][,policy=...]) or, from the file, an object.
    plugins: list[Any] = field(default_factory=list)
    plugin_socket_dir: str = "/run/pouch/plugins"
    plugin_spec_dir: str = "/etc/pouch/plugins"
    hooks_dirs: list[str] = field(default_factory=lambda: ["/etc/pouch/hooks.d"])
    containerd: str = ""
    log_level: str = "info"
    bip: str = "192.168.5.1/24"
    bridge_name: str = "p0"
    # Docker's registry settings: mirrors for docker.io, registries reached over
    # plain HTTP or unverified TLS, and where per-registry CA files live.
    registry_mirrors: list[str] = field(default_factory=list)
    insecure_registries: list[str] = field(default_factory=list)
    registry_certs_dir: str = "/etc/pouch/certs.d"
    # The command line it came from, read again with the file on SIGHUP.
    argv: list[str] = field(default_factory=list)


class ConfigError(Exception):
    pass


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="pouchd", description="The pouch daemon.")
    p.add_argument("--config-file", default=DEFAULT_CONFIG)
    p.add_argument("--home-dir")
    p.add_argument("-l", "--listen", action="append")
    p.add_argument(
        "--plugin",
        action="append",
        dest="plugin",
        metavar="PATH[,timeout=S][,policy=fail|ignore]",
    )
    p.add_argument("--plugin-socket-dir", help="where plugin processes put sockets")
    p.add_argument("--plugin-spec-dir", help="where plugin spec files are read")
    p.add_argument("--hooks-dir", action="append", help="OCI hook files (repeatable)")
    p.add_argument("--containerd", help="address of a running containerd to use")
    p.add_argument("--log-level", choices=["debug", "info", "warning", "error"])
    p.add_argument("--bip", help="address and prefix of the default bridge")
    p.add_argument("--bridge-name", help="device name of the default bridge")
    p.add_argument("--registry-mirror", action="append", help="docker.io mirror URL")
    p.add_argument(
        "--insecure-registry", action="append", help="host[:port] or CIDR to trust"
    )
    p.add_argument("--registry-certs-dir", help="<dir>/<host>/*.crt: registry CAs")
    return p


# config-file key -> attribute
_KEYS = {
    "home-dir": "home_dir",
    "listen": "listen",
    "plugin": "plugins",
    "plugins": "plugins",
    "plugin-socket-dir": "plugin_socket_dir",
    "plugin-spec-dir": "plugin_spec_dir",
    "hooks-dir": "hooks_dirs",
    "hooks-dirs": "hooks_dirs",
    "containerd": "containerd",
    "log-level": "log_level",
    "bip": "bip",
    "bridge-name": "bridge_name",
    "registry-mirrors": "registry_mirrors",
    "insecure-registries": "insecure_registries",
    "registry-certs-dir": "registry_certs_dir",
}


# keys whose value is a list; a single string in the file means a list of one
_LISTS = (
    "listen",
    "plugins",
    "hooks_dirs",
    "registry_mirrors",
    "insecure_registries",
)


def load(argv: list[str]) -> DaemonConfig:
    args = parser().parse_args(argv)
    config = DaemonConfig()
    explicit = "--config-file" in " ".join(argv)
    _apply_file(config, Path(args.config_file), required=explicit)
    for attr, value in (
        ("home_dir", args.home_dir),
        ("listen", args.listen),
        ("plugins", args.plugin),
        ("plugin_socket_dir", args.plugin_socket_dir),
        ("plugin_spec_dir", args.plugin_spec_dir),
        ("hooks_dirs", args.hooks_dir),
        ("containerd", args.containerd),
        ("log_level", args.log_level),
        ("bip", args.bip),
        ("bridge_name", args.bridge_name),
        ("registry_mirrors", args.registry_mirror),
        ("insecure_registries", args.insecure_registry),
        ("registry_certs_dir", args.registry_certs_dir),
    ):
        if value is not None:
            setattr(config, attr, value)
    config.home_dir = Path(config.home_dir).resolve()
    config.argv = list(argv)
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
        if attr in _LISTS and isinstance(value, str):
            value = [value]
        _check_type(path, key, attr, value)
        setattr(config, attr, value)


def _check_type(path: Path, key: str, attr: str, value: Any) -> None:
    """Lists of strings (plugins: strings or objects) and strings, as the flags."""
    if attr in _LISTS:
        allowed: tuple[type, ...] = (str, dict) if attr == "plugins" else (str,)
        if isinstance(value, list) and all(isinstance(v, allowed) for v in value):
            return
        what = "strings or objects" if attr == "plugins" else "strings"
        raise ConfigError(
            f"config file {path}: {key} must be a string or a list of {what}, "
            f"not {value!r}"
        )
    if not isinstance(value, str):
        raise ConfigError(f"config file {path}: {key} must be a string, not {value!r}")
