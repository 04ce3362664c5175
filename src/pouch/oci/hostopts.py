"""Spec fields for the create options beyond the basics: ulimits, /dev/shm's size,
tmpfs mounts, no-new-privileges, devices, CPU sets and shares by ``NanoCpus``,
the OOM killer switch, extra groups, ``--init`` and sysctls; and the create-time
rules for the runtime's name and the PID, IPC and UTS modes.

Each is applied to the spec that ``build_spec`` made, one small function per
option, so that the base sections stay as they were.
"""

from __future__ import annotations

import os
import re
import shutil
import stat
from pathlib import Path
from typing import Any

from pouch.oci import seccomp
from pouch.oci.spec import SpecError, capabilities
from pouch.oci.users import UnknownUser, resolve_group
from pouch.types import HostSettings

_CPU_PERIOD = 100_000
_INIT_BINARIES = ("docker-init", "tini", "catatonit")
_ULIMIT_NAMES = {
    "core", "cpu", "data", "fsize", "locks", "memlock", "msgqueue", "nice",
    "nofile", "nproc", "rss", "rtprio", "rttime", "sigpending", "stack", "as",
}  # fmt: skip
_CPUSET = re.compile(r"^\d+(-\d+)?(,\d+(-\d+)?)*$")
# cgroup v1's root, v2's root, then the kernel's own list, the first one present.
_CPUSET_SOURCES = {
    "cpus": (
        "/sys/fs/cgroup/cpuset/cpuset.effective_cpus",
        "/sys/fs/cgroup/cpuset.cpus.effective",
        "/sys/devices/system/cpu/online",
    ),
    "mems": (
        "/sys/fs/cgroup/cpuset/cpuset.effective_mems",
        "/sys/fs/cgroup/cpuset.mems.effective",
        "/sys/devices/system/node/online",
    ),
}
_MAX_CPU_SHARES = 262_144
RUNTIMES = ("", "runc")
CONTAINER_MODE = "container:"
# The sysctls of the IPC namespace, which runc lets a container set in its own.
_IPC_SYSCTLS = {
    "kernel.msgmax", "kernel.msgmnb", "kernel.msgmni", "kernel.sem",
    "kernel.shmall", "kernel.shmmax", "kernel.shmmni", "kernel.shm_rmid_forced",
}  # fmt: skip


class HostOptionError(ValueError):
    """A create option that cannot be honoured; the message names it."""


def check(host: HostSettings) -> None:
    """The same rules at create time, against an empty spec, so a bad option is
    refused before the container exists. Group names wait for the start, which has
    the image's /etc/group."""
    if host.Runtime not in RUNTIMES:
        raise HostOptionError(f"unknown or invalid runtime name: {host.Runtime}")
    check_modes(host)
    try:
        caps = capabilities(host)
    except SpecError as exc:
        raise HostOptionError(str(exc)) from exc
    skeleton: dict[str, Any] = {
        "process": {
            "args": [],
            "user": {"additionalGids": []},
            "capabilities": {"bounding": caps},
        },
        "mounts": [],
        "linux": {"resources": {"devices": []}},
    }
    apply(skeleton, host)


def check_modes(host: HostSettings) -> None:
    """The PID, IPC and UTS modes, by form; a container they name is the caller's
    to find (``joined_containers``)."""
    modes = (
        ("PID", host.PidMode, ("", "host")),
        ("IPC", host.IpcMode, ("", "none", "private", "shareable", "host")),
        ("UTS", host.UTSMode, ("", "host")),
    )
    for kind, mode, plain in modes:
        joins = kind != "UTS" and mode.startswith(CONTAINER_MODE)
        if mode not in plain and not (joins and mode != CONTAINER_MODE):
            raise HostOptionError(f"invalid {kind} mode: {mode}")


def joined_containers(host: HostSettings) -> dict[str, str]:
    """The containers whose namespaces ``container:<ref>`` modes join, by the
    namespace's kind (``pid``, ``ipc``)."""
    modes = {"pid": host.PidMode, "ipc": host.IpcMode}
    return {
        kind: mode.removeprefix(CONTAINER_MODE)
        for kind, mode in modes.items()
        if mode.startswith(CONTAINER_MODE)
    }


def apply(
    spec: dict[str, Any], host: HostSettings, rootfs_dirs: list[Path] | None = None
) -> dict[str, Any]:
    """The host options on ``spec``; ``rootfs_dirs`` (the image's layers, topmost
    first) resolve group names, and without them names are only checked for form."""
    _ulimits(spec, host)
    _shm_size(spec, host)
    _tmpfs(spec, host)
    _security_opts(spec, host)
    _devices(spec, host)
    _cpus(spec, host)
    _memory_flags(spec, host)
    _group_add(spec, host, rootfs_dirs)
    _init(spec, host)
    _sysctls(spec, host)
    return spec


def _ulimits(spec: dict[str, Any], host: HostSettings) -> None:
    rlimits = []
    for item in host.Ulimits or []:
        name = str(item.get("Name", ""))
        if name not in _ULIMIT_NAMES:
            raise HostOptionError(f"invalid ulimit {name!r}: unknown resource")
        soft, hard = item.get("Soft", 0), item.get("Hard", 0)
        if not isinstance(soft, int) or not isinstance(hard, int) or soft > hard:
            raise HostOptionError(
                f"invalid ulimit {name}: soft limit {soft} must be an integer no "
                f"larger than the hard limit {hard}"
            )
        rlimits.append({"type": f"RLIMIT_{name.upper()}", "soft": soft, "hard": hard})
    if rlimits:
        spec["process"]["rlimits"] = rlimits


def _shm_size(spec: dict[str, Any], host: HostSettings) -> None:
    if not host.ShmSize:
        return
    if host.ShmSize < 0:
        raise HostOptionError(f"invalid ShmSize {host.ShmSize}: must not be negative")
    for mount in spec["mounts"]:
        # A /dev/shm of the host's or another container's keeps its size.
        if mount["destination"] == "/dev/shm" and mount["type"] == "tmpfs":
            options = [o for o in mount["options"] if not o.startswith("size=")]
            mount["options"] = options + [f"size={host.ShmSize}"]


def _tmpfs(spec: dict[str, Any], host: HostSettings) -> None:
    for dest, options in (host.Tmpfs or {}).items():
        if not dest.startswith("/"):
            raise HostOptionError(f"invalid tmpfs {dest!r}: the path must be absolute")
        opts = ["nosuid", "nodev", "noexec"]
        opts += [o for o in str(options or "").split(",") if o]
        spec["mounts"] = [m for m in spec["mounts"] if m["destination"] != dest]
        spec["mounts"].append(
            {"destination": dest, "type": "tmpfs", "source": "tmpfs", "options": opts}
        )


def _security_opts(spec: dict[str, Any], host: HostSettings) -> None:
    profile: dict[str, Any] | None = None
    confined = not host.Privileged  # docker runs privileged containers unfiltered
    for opt in host.SecurityOpt or []:
        key, _, value = opt.replace("=", ":", 1).partition(":")
        if key == "no-new-privileges" and value in ("", "true"):
            spec["process"]["noNewPrivileges"] = True
        elif key == "no-new-privileges" and value == "false":
            spec["process"]["noNewPrivileges"] = False
        elif key == "seccomp" and value == "unconfined":
            confined = False
        elif key == "seccomp" and value:
            try:
                profile = seccomp.custom_profile(value)
            except seccomp.SeccompError as exc:
                raise HostOptionError(str(exc)) from exc
        elif key == "apparmor" and value == "unconfined":
            continue  # no AppArmor profile is applied, so unconfined is what runs
        else:
            raise HostOptionError(
                f"invalid --security-opt {opt!r}: supported are no-new-privileges, "
                "seccomp=unconfined|<profile JSON> and apparmor=unconfined"
            )
    if profile is not None and not host.Privileged:
        spec["linux"]["seccomp"] = profile
    elif confined:
        held = (spec["process"].get("capabilities") or {}).get("bounding") or []
        spec["linux"]["seccomp"] = seccomp.default_profile(held)


def _devices(spec: dict[str, Any], host: HostSettings) -> None:
    for item in host.Devices or []:
        path = str(item.get("PathOnHost", ""))
        inside = str(item.get("PathInContainer") or path)
        perms = str(item.get("CgroupPermissions") or "rwm")
        try:
            info = os.stat(path)
        except (OSError, ValueError) as exc:
            raise HostOptionError(
                f"error gathering device information while adding custom device "
                f'"{path}": no such file or directory'
            ) from exc
        if not (stat.S_ISCHR(info.st_mode) or stat.S_ISBLK(info.st_mode)):
            raise HostOptionError(f"invalid device {path!r}: not a device")
        kind = "c" if stat.S_ISCHR(info.st_mode) else "b"
        major, minor = os.major(info.st_rdev), os.minor(info.st_rdev)
        linux = spec["linux"]
        linux.setdefault("devices", []).append({
            "path": inside, "type": kind, "major": major, "minor": minor,
            "fileMode": stat.S_IMODE(info.st_mode), "uid": 0, "gid": 0,
        })  # fmt: skip
        linux["resources"]["devices"].append({
            "allow": True, "type": kind, "major": major, "minor": minor,
            "access": perms,
        })  # fmt: skip


def _cpus(spec: dict[str, Any], host: HostSettings) -> None:
    cpu = spec["linux"]["resources"].setdefault("cpu", {})
    if host.CpuShares > _MAX_CPU_SHARES:
        raise HostOptionError(
            f"invalid HostConfig.CpuShares {host.CpuShares}: at most {_MAX_CPU_SHARES}"
        )
    if host.NanoCpus:
        if host.CpuQuota or host.CpuPeriod:
            raise HostOptionError(
                "Conflicting options: Nano CPUs and CPU Period cannot both be set"
            )
        ncpu = os.cpu_count() or 1
        if host.NanoCpus < 0 or host.NanoCpus > ncpu * 1_000_000_000:
            raise HostOptionError(
                f"Range of CPUs is from 0.01 to {ncpu}.00, as there are only {ncpu} "
                "CPUs available"
            )
        cpu["period"] = _CPU_PERIOD
        cpu["quota"] = host.NanoCpus * _CPU_PERIOD // 1_000_000_000
    for field, key in (("CpusetCpus", "cpus"), ("CpusetMems", "mems")):
        value = getattr(host, field)
        if value:
            if not _CPUSET.match(value):
                raise HostOptionError(f"invalid {field} {value!r}: expected e.g. 0-2,4")
            _check_available(key, value)
            cpu[key] = value
    if not cpu:
        del spec["linux"]["resources"]["cpu"]


def _check_available(key: str, value: str) -> None:
    """dockerd's rule and words: a CPU or memory node the host lacks is refused."""
    available = _host_cpuset(key)
    if available is None:
        return
    have = _cpuset_members(available)
    for first, last in _cpuset_ranges(value):
        if first > last:
            raise HostOptionError(f"invalid cpuset {value!r}: {first}-{last} is empty")
        if last - first > len(have) or not all(
            n in have for n in range(first, last + 1)
        ):
            what = "CPUs" if key == "cpus" else "memory nodes"
            raise HostOptionError(
                f"Requested {what} are not available - requested {value}, "
                f"available: {available}"
            )


def _host_cpuset(key: str) -> str | None:
    for source in _CPUSET_SOURCES[key]:
        try:
            text = Path(source).read_text().strip()
        except OSError:
            continue
        if _CPUSET.match(text):
            return text
    return None


def _cpuset_ranges(text: str) -> list[tuple[int, int]]:
    ranges = []
    for part in text.split(","):
        first, _, last = part.partition("-")
        ranges.append((int(first), int(last or first)))
    return ranges


def _cpuset_members(text: str) -> set[int]:
    return {n for first, last in _cpuset_ranges(text) for n in range(first, last + 1)}


def _memory_flags(spec: dict[str, Any], host: HostSettings) -> None:
    if host.MemorySwap and host.MemorySwap != -1 and host.MemorySwap < host.Memory:
        raise HostOptionError(
            "Minimum memoryswap limit should be larger than memory limit, see usage"
        )
    if host.MemorySwap and not host.Memory:
        raise HostOptionError(
            "You should always set the Memory limit when using Memoryswap limit"
        )
    if host.OomKillDisable:
        spec["linux"]["resources"].setdefault("memory", {})["disableOOMKiller"] = True


def _group_add(
    spec: dict[str, Any], host: HostSettings, rootfs_dirs: list[Path] | None
) -> None:
    extra = spec["process"]["user"].setdefault("additionalGids", [])
    for group in host.GroupAdd or []:
        name = str(group)
        if not name or ":" in name or "\n" in name:
            raise HostOptionError(f"invalid group {name!r}: give a group name or id")
        if rootfs_dirs is None:
            continue
        try:
            gid = resolve_group(name, rootfs_dirs)
        except UnknownUser as exc:
            raise HostOptionError(str(exc)) from exc
        if gid not in extra:
            extra.append(gid)


def _init(spec: dict[str, Any], host: HostSettings) -> None:
    if not host.Init:
        return
    binary = next((p for p in map(shutil.which, _INIT_BINARIES) if p), None)
    if binary is None:
        raise HostOptionError(
            "--init needs an init binary on the host (docker-init, tini or "
            "catatonit in PATH)"
        )
    spec["mounts"].append({
        "destination": "/sbin/docker-init", "type": "bind", "source": binary,
        "options": ["rbind", "ro"],
    })  # fmt: skip
    spec["process"]["args"] = ["/sbin/docker-init", "--", *spec["process"]["args"]]


def _sysctls(spec: dict[str, Any], host: HostSettings) -> None:
    """Only the sysctls of namespaces the container has of its own, as runc allows
    them: those of IPC and of the network."""
    for key, value in (host.Sysctls or {}).items():
        if key in _IPC_SYSCTLS or key.startswith("fs.mqueue."):
            if host.IpcMode == "host":
                raise HostOptionError(
                    f"sysctl {key!r} is not allowed with IpcMode host: it would "
                    "change the host's IPC namespace"
                )
        elif key.startswith("net."):
            if host.NetworkMode == "host":
                raise HostOptionError(
                    f"sysctl {key!r} is not allowed with NetworkMode host: it would "
                    "change the host's network namespace"
                )
        else:
            raise HostOptionError(
                f"sysctl {key!r} is not allowed: only kernel.msg*, kernel.sem, "
                "kernel.shm*, fs.mqueue.* and net.* are namespaced"
            )
        if not value or "\n" in value:
            raise HostOptionError(f"invalid sysctl {key}={value!r}: give one value")
    if host.Sysctls:
        spec["linux"]["sysctl"] = dict(host.Sysctls)
