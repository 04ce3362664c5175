"""Resource usage of running containers, read from the cgroups and /proc.

The container's cgroups are found through its init process's /proc/<pid>/cgroup, so
whatever path runc chose is the one read. cgroup v1 (the hosts here) is read; on a
host with only the unified hierarchy the cgroup v2 files are read instead.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

CGROUP_ROOT = Path("/sys/fs/cgroup")
ZERO_TIME = "0001-01-01T00:00:00Z"
_CLK_TCK = os.sysconf("SC_CLK_TCK")


def sample(cid: str, name: str, pid: int, pids_count: int) -> dict[str, Any]:
    """One stats document in the Docker API's shape (precpu left empty)."""
    groups = _cgroups(pid)
    return {
        "read": _now(),
        "preread": ZERO_TIME,
        "id": cid,
        "name": "/" + name,
        "pids_stats": {"current": pids_count},
        "cpu_stats": _cpu(groups),
        "precpu_stats": _empty_cpu(),
        "memory_stats": _memory(groups),
        "blkio_stats": _blkio(groups),
        "networks": _networks(pid),
        "num_procs": 0,
        "storage_stats": {},
    }


def with_previous(current: dict[str, Any], previous: dict[str, Any]) -> dict[str, Any]:
    current["precpu_stats"] = previous["cpu_stats"]
    current["preread"] = previous["read"]
    return current


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _cgroups(pid: int) -> dict[str, Path]:
    """controller -> directory of the process's cgroup."""
    found: dict[str, Path] = {}
    try:
        lines = Path(f"/proc/{pid}/cgroup").read_text().splitlines()
    except OSError:
        return found
    for line in lines:
        _, controllers, path = line.split(":", 2)
        for controller in controllers.split(",") if controllers else ["unified"]:
            base = CGROUP_ROOT / controller
            if controller == "unified" and not base.exists():
                base = CGROUP_ROOT
            found[controller] = base / path.lstrip("/")
    return found


def _read_int(path: Path, default: int = 0) -> int:
    try:
        return int(path.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return default


def _read_kv(path: Path) -> dict[str, int]:
    values: dict[str, int] = {}
    try:
        for line in path.read_text().splitlines():
            key, _, value = line.partition(" ")
            if value.strip().lstrip("-").isdigit():
                values[key] = int(value)
    except OSError:
        pass
    return values


def _system_usage() -> int:
    """All CPUs' time since boot in ns, as dockerd reports system_cpu_usage."""
    with open("/proc/stat") as f:
        fields = f.readline().split()[1:8]
    return sum(int(v) for v in fields) * 1_000_000_000 // _CLK_TCK


def _empty_cpu() -> dict[str, Any]:
    return {"cpu_usage": {"total_usage": 0}, "throttling_data": {}}


def _cpu(groups: dict[str, Path]) -> dict[str, Any]:
    acct = groups.get("cpuacct")
    online = os.cpu_count() or 1
    if acct is not None:
        percpu = _percpu(acct / "cpuacct.usage_percpu")
        stat = _read_kv(acct / "cpuacct.stat")
        hz_ns = 1_000_000_000 // _CLK_TCK
        usage = {
            "total_usage": _read_int(acct / "cpuacct.usage"),
            "percpu_usage": percpu,
            "usage_in_kernelmode": stat.get("system", 0) * hz_ns,
            "usage_in_usermode": stat.get("user", 0) * hz_ns,
        }
    else:
        stat = _read_kv(groups.get("unified", CGROUP_ROOT) / "cpu.stat")
        usage = {
            "total_usage": stat.get("usage_usec", 0) * 1000,
            "usage_in_kernelmode": stat.get("system_usec", 0) * 1000,
            "usage_in_usermode": stat.get("user_usec", 0) * 1000,
        }
    throttle = _read_kv(groups.get("cpu", CGROUP_ROOT / "none") / "cpu.stat")
    return {
        "cpu_usage": usage,
        "system_cpu_usage": _system_usage(),
        "online_cpus": online,
        "throttling_data": {
            "periods": throttle.get("nr_periods", 0),
            "throttled_periods": throttle.get("nr_throttled", 0),
            "throttled_time": throttle.get("throttled_time", 0),
        },
    }


def _percpu(path: Path) -> list[int]:
    try:
        return [int(v) for v in path.read_text().split()]
    except (OSError, ValueError):
        return []


def _memory(groups: dict[str, Path]) -> dict[str, Any]:
    memory = groups.get("memory")
    if memory is not None:
        stats = _read_kv(memory / "memory.stat")
        limit = stats.get("hierarchical_memory_limit", 0)
        return {
            "usage": _read_int(memory / "memory.usage_in_bytes"),
            "max_usage": _read_int(memory / "memory.max_usage_in_bytes"),
            "failcnt": _read_int(memory / "memory.failcnt"),
            "limit": min(limit, _host_memory()) if limit else _host_memory(),
            "stats": stats,
        }
    unified = groups.get("unified", CGROUP_ROOT)
    raw_max = (
        (unified / "memory.max").read_text().strip()
        if (unified / "memory.max").exists()
        else "max"
    )  # noqa: E501
    return {
        "usage": _read_int(unified / "memory.current"),
        "limit": _host_memory() if raw_max == "max" else int(raw_max),
        "stats": _read_kv(unified / "memory.stat"),
    }


def _host_memory() -> int:
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


def _blkio(groups: dict[str, Path]) -> dict[str, Any]:
    blkio = groups.get("blkio")
    entries = []
    if blkio is not None:
        path = blkio / "blkio.throttle.io_service_bytes_recursive"
        try:
            lines = path.read_text().splitlines()
        except OSError:
            lines = []
        for line in lines:
            parts = line.split()
            if len(parts) == 3 and ":" in parts[0]:
                major, minor = parts[0].split(":")
                entries.append({
                    "major": int(major), "minor": int(minor),
                    "op": parts[1].lower(), "value": int(parts[2]),
                })  # fmt: skip
    return {"io_service_bytes_recursive": entries}


def _networks(pid: int) -> dict[str, Any]:
    """Per interface counters from inside the container's network namespace."""
    nets: dict[str, Any] = {}
    try:
        lines = Path(f"/proc/{pid}/net/dev").read_text().splitlines()[2:]
    except OSError:
        return nets
    for line in lines:
        name, _, rest = line.partition(":")
        name = name.strip()
        values = [int(v) for v in rest.split()]
        if name == "lo" or len(values) < 16:
            continue
        nets[name] = {
            "rx_bytes": values[0], "rx_packets": values[1],
            "rx_errors": values[2], "rx_dropped": values[3],
            "tx_bytes": values[8], "tx_packets": values[9],
            "tx_errors": values[10], "tx_dropped": values[11],
        }  # fmt: skip
    return nets


def stopped(cid: str, name: str) -> dict[str, Any]:
    """What dockerd shows for a container that is not running: zeros."""
    return {
        "read": ZERO_TIME,
        "preread": ZERO_TIME,
        "id": cid,
        "name": "/" + name,
        "pids_stats": {},
        "cpu_stats": _empty_cpu(),
        "precpu_stats": _empty_cpu(),
        "memory_stats": {},
        "blkio_stats": {},
        "networks": {},
    }
