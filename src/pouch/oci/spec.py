"""Building a container's OCI runtime spec, one small function per section.

Inputs are the create request (already validated), the image's config section and
what the daemon prepared for this start (hooks in run order, files to bind in, the
rootfs directories for looking up users). The result is the spec as JSON-ready dicts,
which containerd stores and the shim writes out as config.json.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pouch.hookplugins.ordering import Hook, by_stage
from pouch.oci import defaults
from pouch.oci.users import resolve_user
from pouch.types import ContainerConfig, HostSettings

OCI_VERSION = "1.0.2-dev"


class SpecError(ValueError):
    """The create config cannot become a valid spec; the message says why."""


@dataclass(frozen=True)
class Mount:
    """A volume, host directory or tmpfs the daemon resolved for the container; a
    volume is a bind of its data directory."""

    destination: str
    source: str = ""
    type: str = "bind"  # bind or tmpfs
    read_only: bool = False
    propagation: str = ""
    recursive: bool = True
    options: tuple[str, ...] = ()  # a tmpfs's size= and mode=


@dataclass
class SpecInput:
    container_id: str
    config: ContainerConfig
    host_config: HostSettings
    image_config: dict[str, Any]
    hostname: str
    # Hooks of every stage, in run order (the name predates the other stages).
    prestart_hooks: list[Hook] = field(default_factory=list)
    host_network: bool = False
    # The network namespace to join (``/proc/<pid>/ns/net``), for a container
    # that shares another's; empty for a namespace of its own.
    netns_path: str = ""
    # For ``container:<ref>`` PID and IPC modes: the pid of the running container
    # whose namespace of that kind (``pid``, ``ipc``) is joined.
    joined_pids: dict[str, int] = field(default_factory=dict)
    # A host directory to bind at /dev/shm: the tmpfs the daemon mounted for a
    # shareable IPC namespace, this container's or the one it joins.
    shm_source: str = ""
    # Files the daemon made for the container, by their path inside it.
    files: dict[str, Path] = field(default_factory=dict)
    # Volumes, binds and tmpfs mounts the request asked for.
    mounts: list[Mount] = field(default_factory=list)
    # Where the rootfs's files can be read (upper layer first), for /etc/passwd.
    rootfs_dirs: list[Path] = field(default_factory=list)
    cgroup_parent: str = "/pouch"


def build_spec(inp: SpecInput) -> dict[str, Any]:
    from pouch.oci import hostopts

    try:
        return hostopts.apply(_base_spec(inp), inp.host_config, inp.rootfs_dirs)
    except hostopts.HostOptionError as exc:
        raise SpecError(str(exc)) from exc


def _base_spec(inp: SpecInput) -> dict[str, Any]:
    spec = {
        "ociVersion": OCI_VERSION,
        "process": process_section(inp),
        "root": {"path": "rootfs", "readonly": inp.host_config.ReadonlyRootfs},
        "hostname": inp.hostname,
        "mounts": mounts_section(inp),
        "hooks": by_stage(inp.prestart_hooks),
        "annotations": dict(inp.config.Labels or {}),
        "linux": linux_section(inp),
    }
    if inp.host_config.UTSMode == "host":
        del spec["hostname"]  # runc sets none without a UTS namespace of its own
    return spec


def process_section(inp: SpecInput) -> dict[str, Any]:
    uid, gid, extra_gids = resolve_user(_user(inp), inp.rootfs_dirs)
    caps = capabilities(inp.host_config)
    return {
        "terminal": inp.config.Tty,
        "user": {"uid": uid, "gid": gid, "additionalGids": extra_gids},
        "args": command(inp),
        "env": environment(inp),
        "cwd": inp.config.WorkingDir or inp.image_config.get("WorkingDir") or "/",
        "capabilities": {
            "bounding": caps,
            "effective": caps,
            "permitted": caps,
        },
        "noNewPrivileges": False,
        "oomScoreAdj": 0,
    }


def command(inp: SpecInput) -> list[str]:
    return resolve_command(inp.config, inp.image_config)


def resolve_command(config: ContainerConfig, image: dict[str, Any]) -> list[str]:
    """Docker's rule: the request's Entrypoint replaces the image's, and then the
    image's Cmd only applies when the request changed neither."""
    entrypoint = config.Entrypoint
    cmd = config.Cmd
    if entrypoint is None:
        entrypoint = image.get("Entrypoint") or []
        if cmd is None:
            cmd = image.get("Cmd") or []
    args = list(entrypoint) + list(cmd or [])
    if not args:
        raise SpecError("no command specified: the image has no Cmd or Entrypoint")
    return args


def environment(inp: SpecInput) -> list[str]:
    """The image's variables, then the request's, a later name replacing an earlier."""
    merged: dict[str, str] = {}
    for entry in list(inp.image_config.get("Env") or []) + list(inp.config.Env or []):
        name, _, value = entry.partition("=")
        merged[name] = value
    merged.setdefault("PATH", defaults.DEFAULT_PATH)
    merged["HOSTNAME"] = inp.hostname
    if inp.config.Tty:
        merged.setdefault("TERM", "xterm")
    return [f"{name}={value}" for name, value in merged.items()]


def capabilities(host: HostSettings) -> list[str]:
    if host.Privileged:
        return defaults.host_capabilities()
    caps = list(defaults.CAPABILITIES)
    adds = [_cap_name(c) for c in host.CapAdd or []]
    drops = [_cap_name(c) for c in host.CapDrop or []]
    if "CAP_ALL" in adds:
        caps = defaults.host_capabilities()
    caps += [c for c in adds if c != "CAP_ALL" and c not in caps]
    if "CAP_ALL" in drops:
        return [c for c in caps if c in adds]
    return [c for c in caps if c not in drops]


def _cap_name(name: str) -> str:
    upper = name.upper()
    full = upper if upper.startswith("CAP_") else "CAP_" + upper
    if full != "CAP_ALL" and full not in defaults.ALL_CAPABILITIES:
        raise SpecError(f"unknown capability: {name!r}")
    return full


def _user(inp: SpecInput) -> str:
    return inp.config.User or str(inp.image_config.get("User") or "")


def mounts_section(inp: SpecInput) -> list[dict[str, Any]]:
    """The defaults, less those a mount of the container's own replaces, then the
    daemon's files and the requested mounts, shallowest destination first: runc
    mounts in order, so a volume at /etc comes before the /etc/hosts bound over
    it, as dockerd sorts them."""
    base: list[dict[str, Any]] = copy.deepcopy(defaults.MOUNTS)
    base = [_shm(inp, m) if m["destination"] == "/dev/shm" else m for m in base]
    base = [m for m in base if m]
    if inp.host_config.Privileged:
        for mount in base:
            if mount["destination"] in ("/sys", "/sys/fs/cgroup"):
                mount["options"] = [o for o in mount["options"] if o != "ro"] + ["rw"]
    asked = [_requested(m) for m in inp.mounts]
    taken = {m["destination"] for m in asked}
    files = [
        _bind(str(source), dest, read_only=False)
        for dest, source in inp.files.items()
        if dest not in taken
    ]
    own = sorted(files + asked, key=_depth)
    taken |= {m["destination"] for m in files}
    return [m for m in base if m["destination"] not in taken] + own


def _shm(inp: SpecInput, default: dict[str, Any]) -> dict[str, Any]:
    """/dev/shm goes with the IPC namespace: the host's for ``host``, the daemon's
    tmpfs for a shareable one (``shm_source``), none for ``none`` (an empty
    dict)."""
    mode = inp.host_config.IpcMode
    if mode == "none":
        return {}
    if mode == "host":
        return _bind("/dev/shm", "/dev/shm", read_only=False)
    if inp.shm_source:
        return _bind(inp.shm_source, "/dev/shm", read_only=False)
    return default


def _depth(mount: dict[str, Any]) -> int:
    return len([p for p in str(mount["destination"]).split("/") if p])


def _requested(mount: Mount) -> dict[str, Any]:
    if mount.type == "tmpfs":
        options = ["nosuid", "nodev", "noexec", *mount.options]
        options.append("ro" if mount.read_only else "rw")
        return {
            "destination": mount.destination,
            "type": "tmpfs",
            "source": "tmpfs",
            "options": options,
        }
    options = [
        "rbind" if mount.recursive else "bind",
        mount.propagation or "rprivate",
        "ro" if mount.read_only else "rw",
    ]
    return {
        "destination": mount.destination,
        "type": "bind",
        "source": mount.source,
        "options": options,
    }


def _bind(source: str, dest: str, *, read_only: bool) -> dict[str, Any]:
    options = ["rbind", "rprivate", "ro" if read_only else "rw"]
    return {"destination": dest, "type": "bind", "source": source, "options": options}


def linux_section(inp: SpecInput) -> dict[str, Any]:
    privileged = inp.host_config.Privileged
    linux: dict[str, Any] = {
        "cgroupsPath": f"{inp.cgroup_parent}/{inp.container_id}",
        "namespaces": namespaces(inp),
        "resources": resources(inp.host_config),
    }
    if not privileged:
        linux["maskedPaths"] = list(defaults.MASKED_PATHS)
        linux["readonlyPaths"] = list(defaults.READONLY_PATHS)
    return linux


def namespaces(inp: SpecInput) -> list[dict[str, str]]:
    """A namespace of each kind, less those shared with the host; one joined from
    another container carries that container's path."""
    host = inp.host_config
    shared = {
        "pid": host.PidMode == "host",
        "ipc": host.IpcMode == "host",
        "uts": host.UTSMode == "host",
        "network": inp.host_network,
    }
    paths = {kind: f"/proc/{pid}/ns/{kind}" for kind, pid in inp.joined_pids.items()}
    if inp.netns_path:
        paths["network"] = inp.netns_path
    found = []
    for kind in ("pid", "ipc", "uts", "mount", "network"):
        if shared.get(kind):
            continue
        entry = {"type": kind}
        if kind in paths:
            entry["path"] = paths[kind]
        found.append(entry)
    return found


def resources(host: HostSettings) -> dict[str, Any]:
    devices: list[dict[str, Any]]
    if host.Privileged:
        devices = [{"allow": True, "access": "rwm"}]
    else:
        devices = copy.deepcopy(defaults.DEVICE_RULES)
    res: dict[str, Any] = {"devices": devices}
    if host.Memory:
        res["memory"] = {"limit": host.Memory}
        if host.MemorySwap:
            res["memory"]["swap"] = host.MemorySwap
    cpu = {
        key: value
        for key, value in (
            ("shares", host.CpuShares),
            ("quota", host.CpuQuota),
            ("period", host.CpuPeriod),
        )
        if value
    }
    if cpu:
        res["cpu"] = cpu
    if host.PidsLimit is not None and host.PidsLimit > 0:
        res["pids"] = {"limit": host.PidsLimit}
    return res
