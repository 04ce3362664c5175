"""A container as the API shows it: the inspect document and the list entry."""

from __future__ import annotations

import time
from typing import Any

from pouch.mgr.records import Container, HealthStatus, Status, parse_rfc3339


def inspect_doc(c: Container) -> dict[str, Any]:
    request = c.request.model_dump(mode="json")
    host_config = request.pop("HostConfig")
    request.pop("NetworkingConfig", None)
    config = {**request, "Hostname": c.hostname, "Image": c.image}
    args = _command(c)
    return {
        "Id": c.id,
        "Created": c.created,
        "Path": args[0] if args else "",
        "Args": args[1:],
        "State": c.state.to_api(),
        "Image": c.image_id,
        "ResolvConfPath": c.files.get("resolv.conf", ""),
        "HostnamePath": c.files.get("hostname", ""),
        "HostsPath": c.files.get("hosts", ""),
        "LogPath": c.log_path,
        "Name": "/" + c.name,
        "RestartCount": c.restart_count,
        "Driver": "overlayfs",
        "Platform": "linux",
        "MountLabel": "",
        "ProcessLabel": "",
        "AppArmorProfile": "",
        "ExecIDs": None,
        "HostConfig": host_config,
        "GraphDriver": {"Name": "overlayfs", "Data": None},
        "Mounts": _mounts(c),
        "Config": config,
        "NetworkSettings": _network_settings(c),
    }


def list_entry(c: Container) -> dict[str, Any]:
    args = _command(c)
    return {
        "Id": c.id,
        "Names": ["/" + c.name],
        "Image": c.image,
        "ImageID": c.image_id,
        "Command": " ".join(args),
        "Created": int(parse_rfc3339(c.created)),
        "Ports": _port_list(c),
        "Labels": c.request.Labels or {},
        "State": c.state.status.value,
        "Status": status_text(c),
        "HostConfig": {"NetworkMode": c.request.HostConfig.NetworkMode or "default"},
        "NetworkSettings": {"Networks": {n.network: n.to_api() for n in c.networks}},
        "Mounts": _mounts(c),
    }


def status_text(c: Container) -> str:
    """Docker's human status: "Up 3 seconds (healthy)", "Exited (0) 5 minutes ago"."""
    state = c.state
    if state.status == Status.RUNNING:
        up = "Up " + _duration(time.time() - parse_rfc3339(state.started_at))
        return up + _health_text(c)
    if state.status == Status.PAUSED:
        return (
            "Up "
            + _duration(time.time() - parse_rfc3339(state.started_at))
            + " (Paused)"
        )  # noqa: E501
    if state.status == Status.EXITED:
        ago = _duration(time.time() - parse_rfc3339(state.finished_at))
        return f"Exited ({state.exit_code}) {ago} ago"
    return state.status.value.capitalize()


def _health_text(c: Container) -> str:
    health = c.state.health
    if health is None:
        return ""
    if health.status == HealthStatus.STARTING:
        return " (health: starting)"
    return f" ({health.status.value})"


def health_filter_value(c: Container) -> str:
    """What the ``health`` list filter matches: a status, or ``none``."""
    health = c.state.health
    return health.status.value if health is not None else "none"


def _duration(seconds: float) -> str:
    seconds = max(int(seconds), 0)
    if seconds < 1:
        return "Less than a second"
    if seconds < 60:
        return f"{seconds} second{'s' if seconds != 1 else ''}"
    minutes = seconds // 60
    if minutes < 60:
        return "About a minute" if minutes == 1 else f"{minutes} minutes"
    hours = minutes // 60
    if hours < 48:
        return "About an hour" if hours == 1 else f"{hours} hours"
    return f"{hours // 24} days"


def matches_filters(c: Container, filters: dict[str, list[str]]) -> bool:
    for key, values in filters.items():
        if not values:
            continue
        if key == "id" and not any(c.id.startswith(v) for v in values):
            return False
        if key == "name" and not any(v.lstrip("/") in c.name for v in values):
            return False
        if key == "status" and c.state.status.value not in values:
            return False
        if key == "exited" and not (
            c.state.status == Status.EXITED and str(c.state.exit_code) in values
        ):
            return False
        if key == "health" and health_filter_value(c) not in values:
            return False
        if key == "label" and not all(_has_label(c, v) for v in values):
            return False
        if key == "ancestor" and not any(v in (c.image, c.image_id) for v in values):
            return False
    return True


def _has_label(c: Container, wanted: str) -> bool:
    labels = c.request.Labels or {}
    key, sep, value = wanted.partition("=")
    return key in labels and (not sep or labels[key] == value)


def _command(c: Container) -> list[str]:
    return list(c.args)


def _mounts(c: Container) -> list[dict[str, Any]]:
    return [m.to_api() for m in c.mounts]


def _network_settings(c: Container) -> dict[str, Any]:
    networks = {n.network: n.to_api() for n in c.networks}
    primary = max(c.networks, key=lambda n: n.priority, default=None)
    return {
        "Bridge": "",
        "SandboxID": c.id if c.running else "",
        "Ports": _port_map(c),
        "IPAddress": primary.ip_address if primary else "",
        "IPPrefixLen": primary.prefix_len if primary else 0,
        "Gateway": primary.gateway if primary else "",
        "MacAddress": primary.mac_address if primary else "",
        "Networks": networks,
    }


def _port_map(c: Container) -> dict[str, Any]:
    """``{"80/tcp": [{"HostIp": "0.0.0.0", "HostPort": "8080"}]}``; a port that is
    exposed but not published maps to null, as Docker shows it."""
    ports: dict[str, Any] = {}
    for key in c.request.ExposedPorts or {}:
        ports[key if "/" in key else f"{key}/tcp"] = None
    for p in c.ports:
        key = f"{p['Port']}/{p['Proto']}"
        entry = {"HostIp": p["HostIp"], "HostPort": str(p["HostPort"])}
        ports[key] = [*(ports.get(key) or []), entry]
    return ports


def _port_list(c: Container) -> list[dict[str, Any]]:
    return [
        {"IP": p["HostIp"], "PrivatePort": p["Port"], "PublicPort": p["HostPort"],
         "Type": p["Proto"]}
        for p in c.ports
    ]  # fmt: skip
