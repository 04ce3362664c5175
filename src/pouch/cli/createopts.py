"""``create``/``run`` flags, and the Engine API create body built from them.

The body has docker's shape with docker's defaults (zero values included), so the
daemon sees from ``pouch`` what it sees from ``docker`` for the same flags. Flag
values are checked here, before any request, and a bad one names the flag.
"""

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import click

from .units import parse_size

F = TypeVar("F", bound=Callable[..., Any])
_RESTART_NAMES = ("no", "always", "unless-stopped", "on-failure")
_BIND_MODES = {"ro", "rw", "z", "Z", "private", "rprivate", "shared", "rshared"}
_BIND_MODES |= {"slave", "rslave", "nocopy"}


class FlagError(ValueError):
    """A flag's value is malformed; the message names the flag and the rule."""


@dataclass
class CreateOptions:
    """The parsed flags of ``create`` and ``run`` (``detach`` is ``run``'s only)."""

    image: str
    command: Sequence[str] = ()
    name: str | None = None
    detach: bool = False
    rm: bool = False
    env: Sequence[str] = ()
    volume: Sequence[str] = ()
    mount: Sequence[str] = ()
    memory: str | None = None
    entrypoint: str | None = None
    tty: bool = False
    interactive: bool = False
    network: Sequence[str] = ()
    ip: str | None = None
    network_alias: Sequence[str] = ()
    mac_address: str | None = None
    publish: Sequence[str] = ()
    publish_all: bool = False
    hostname: str | None = None
    workdir: str | None = None
    user: str | None = None
    label: Sequence[str] = ()
    privileged: bool = False
    cap_add: Sequence[str] = ()
    cap_drop: Sequence[str] = ()
    read_only: bool = False
    cpu_shares: int | None = None
    cpu_quota: int | None = None
    cpu_period: int | None = None
    pids_limit: int | None = None
    restart: str | None = None
    init: bool = False
    stop_signal: str | None = None
    stop_timeout: int | None = None
    group_add: Sequence[str] = ()
    ulimit: Sequence[str] = ()
    shm_size: str | None = None
    tmpfs: Sequence[str] = ()
    security_opt: Sequence[str] = ()
    device: Sequence[str] = ()
    cpus: float | None = None
    cpuset_cpus: str | None = None
    memory_swap: str | None = None
    oom_kill_disable: bool = False


_OPTIONS: list[Callable[[F], F]] = [
    click.option("--name", help="Assign a name to the container."),
    click.option("--rm", is_flag=True, help="Remove the container when it exits."),
    click.option("-e", "--env", multiple=True, help="Set an environment variable."),
    click.option(
        "-v",
        "--volume",
        multiple=True,
        help="Mount a volume or host path: [name|/host/path:]/path[:ro].",
    ),
    click.option(
        "--mount",
        multiple=True,
        help="Attach a mount: type=volume|bind|tmpfs,source=..,target=..[,readonly].",
    ),
    click.option("-m", "--memory", help="Memory limit (e.g. 64m, 1g)."),
    click.option("--entrypoint", help="Overwrite the image's entrypoint."),
    click.option("-t", "--tty", is_flag=True, help="Allocate a pseudo-TTY."),
    click.option("-i", "--interactive", is_flag=True, help="Keep STDIN open."),
    click.option(
        "--network", multiple=True, help="Connect the container to a network."
    ),
    click.option("--ip", help="IPv4 address on the first network."),
    click.option(
        "--network-alias", multiple=True, help="Add an alias on the first network."
    ),
    click.option("--mac-address", help="MAC address on the first network."),
    click.option(
        "-p",
        "--publish",
        multiple=True,
        help="Publish a port: [hostip:][hostport:]port[/tcp|udp].",
    ),
    click.option(
        "-P", "--publish-all", is_flag=True, help="Publish all exposed ports."
    ),
    click.option("--hostname", help="Container host name."),
    click.option("-w", "--workdir", help="Working directory inside the container."),
    click.option(
        "-u", "--user", help="Username or UID (format: <name|uid>[:<group>])."
    ),
    click.option("-l", "--label", multiple=True, help="Set metadata key=value."),
    click.option("--privileged", is_flag=True, help="Give extended privileges."),
    click.option("--cap-add", multiple=True, help="Add Linux capabilities."),
    click.option("--cap-drop", multiple=True, help="Drop Linux capabilities."),
    click.option("--read-only", is_flag=True, help="Mount the root fs read-only."),
    click.option("--cpu-shares", type=int, help="CPU shares (relative weight)."),
    click.option("--cpu-quota", type=int, help="Limit CPU CFS quota."),
    click.option("--cpu-period", type=int, help="Limit CPU CFS period."),
    click.option("--pids-limit", type=int, help="Tune the container pids limit."),
    click.option("--restart", help="Restart policy (no, always, on-failure[:N]...)."),
    click.option("--init", is_flag=True, help="Run an init inside the container."),
    click.option("--stop-signal", help="Signal to stop the container."),
    click.option("--stop-timeout", type=int, help="Seconds to wait on stop."),
    click.option("--group-add", multiple=True, help="Add additional groups."),
    click.option("--ulimit", multiple=True, help="Ulimit: name=soft[:hard]."),
    click.option("--shm-size", help="Size of /dev/shm (e.g. 64m)."),
    click.option("--tmpfs", multiple=True, help="Mount a tmpfs: path[:options]."),
    click.option("--security-opt", multiple=True, help="Security options."),
    click.option("--device", multiple=True, help="Add a host device: src[:dst[:rwm]]."),
    click.option("--cpus", type=float, help="Number of CPUs."),
    click.option("--cpuset-cpus", help="CPUs in which to allow execution (0-3, 0,1)."),
    click.option("--memory-swap", help="Memory plus swap limit; -1 for unlimited."),
    click.option("--oom-kill-disable", is_flag=True, help="Disable the OOM killer."),
    click.argument("image"),
    click.argument("command", nargs=-1, type=click.UNPROCESSED),
]


def create_options(function: F) -> F:
    """Decorate a command with the whole shared flag set."""
    for option in reversed(_OPTIONS):
        function = option(function)
    return function


def build_create_body(options: CreateOptions) -> dict[str, Any]:
    """The ``POST /containers/create`` body for ``options``."""
    attached = not options.detach
    body: dict[str, Any] = {
        "Image": options.image,
        "Cmd": list(options.command) or None,
        "Entrypoint": _entrypoint(options.entrypoint),
        "Env": _env(options.env),
        "Tty": options.tty,
        "OpenStdin": options.interactive,
        "StdinOnce": options.interactive and attached,
        "AttachStdin": options.interactive and attached,
        "AttachStdout": attached,
        "AttachStderr": attached,
        "Labels": _labels(options.label),
        "Hostname": options.hostname or "",
        "WorkingDir": options.workdir or "",
        "User": options.user or "",
    }
    if options.stop_signal:
        body["StopSignal"] = options.stop_signal
    if options.stop_timeout is not None:
        body["StopTimeout"] = options.stop_timeout
    binds, anonymous = _volumes(options.volume)
    if anonymous:
        body["Volumes"] = {path: {} for path in anonymous}
    body["HostConfig"] = _host_config(options, binds)
    if options.mount:
        body["HostConfig"]["Mounts"] = [_mount(value) for value in options.mount]
    body["HostConfig"].update(_more_host_config(options))
    _network_settings(options, body)
    return body


def _network_settings(options: CreateOptions, body: dict[str, Any]) -> None:
    """Ports, MAC and the endpoints' settings; ``--ip`` and ``--network-alias``
    apply to the first network, as docker applies them."""
    bindings = _port_bindings(options.publish)
    if bindings:
        body["ExposedPorts"] = {key: {} for key in bindings}
        body["HostConfig"]["PortBindings"] = bindings
    if options.publish_all:
        body["HostConfig"]["PublishAllPorts"] = True
    if options.mac_address:
        body["MacAddress"] = options.mac_address
    networks = list(options.network)
    if not networks and (options.ip or options.network_alias):
        raise FlagError("--ip and --network-alias need a user-defined --network")
    endpoints: dict[str, Any] = {name: {} for name in networks}
    if networks:
        first = endpoints[networks[0]]
        if options.ip:
            first["IPAMConfig"] = {"IPv4Address": options.ip}
        if options.network_alias:
            first["Aliases"] = list(options.network_alias)
        body["NetworkingConfig"] = {"EndpointsConfig": endpoints}


def _port_bindings(values: Sequence[str]) -> dict[str, list[dict[str, str]]]:
    """``-p`` values as ``PortBindings``: ``[hostip:][hostport:]port[/proto]``."""
    bindings: dict[str, list[dict[str, str]]] = {}
    for value in values:
        spec, _, proto = value.partition("/")
        proto = proto or "tcp"
        host_ip, host_port, port = _split_publish(value, spec)
        numbers = [p for p in (host_port, port) if p]
        if proto not in ("tcp", "udp") or not all(p.isdigit() for p in numbers):
            raise FlagError(
                f'invalid argument "{value}" for "-p, --publish": expected '
                "[hostip:][hostport:]port[/tcp|udp]"
            )
        bindings.setdefault(f"{port}/{proto}", []).append(
            {"HostIp": host_ip, "HostPort": host_port}
        )
    return bindings


def _split_publish(value: str, spec: str) -> tuple[str, str, str]:
    parts = spec.split(":")
    if len(parts) == 1:
        return "", "", parts[0]
    if len(parts) == 2:
        return "", parts[0], parts[1]
    if len(parts) == 3:
        return parts[0], parts[1], parts[2]
    raise FlagError(f'invalid argument "{value}" for "-p, --publish": too many colons')


def _more_host_config(options: CreateOptions) -> dict[str, Any]:
    """The HostConfig fields of the flags beyond the basics, set only when given."""
    more: dict[str, Any] = {
        "Init": options.init or None,
        "GroupAdd": list(options.group_add) or None,
        "Ulimits": [_ulimit(v) for v in options.ulimit] or None,
        "Tmpfs": dict(_tmpfs(v) for v in options.tmpfs) or None,
        "SecurityOpt": _security_opts(options.security_opt) or None,
        "Devices": [_device(v) for v in options.device] or None,
        "CpusetCpus": options.cpuset_cpus or None,
        "OomKillDisable": options.oom_kill_disable or None,
    }
    if options.shm_size:
        more["ShmSize"] = _size_flag("--shm-size", options.shm_size)
    if options.cpus is not None:
        more["NanoCpus"] = int(round(options.cpus * 1e9))
    if options.memory_swap:
        swap = options.memory_swap
        more["MemorySwap"] = -1 if swap == "-1" else _size_flag("--memory-swap", swap)
    return {k: v for k, v in more.items() if v is not None}


def _size_flag(flag: str, value: str) -> int:
    try:
        return parse_size(value)
    except ValueError as exc:
        raise FlagError(f'invalid argument "{value}" for "{flag}": {exc}') from exc


def _ulimit(value: str) -> dict[str, Any]:
    name, sep, limits = value.partition("=")
    soft, _, hard = limits.partition(":")
    if (
        not sep
        or not soft.lstrip("-").isdigit()
        or (hard and not hard.lstrip("-").isdigit())
    ):  # noqa: E501
        raise FlagError(
            f'invalid argument "{value}" for "--ulimit": expected name=soft[:hard]'
        )
    return {"Name": name, "Soft": int(soft), "Hard": int(hard or soft)}


def _tmpfs(value: str) -> tuple[str, str]:
    path, _, opts = value.partition(":")
    return path, opts


def _device(value: str) -> dict[str, str]:
    parts = value.split(":")
    if not parts[0] or len(parts) > 3:
        raise FlagError(
            f'invalid argument "{value}" for "--device": expected src[:dst[:rwm]]'
        )
    inside = parts[1] if len(parts) > 1 and parts[1] else parts[0]
    perms = parts[2] if len(parts) > 2 else "rwm"
    return {
        "PathOnHost": parts[0],
        "PathInContainer": inside,
        "CgroupPermissions": perms,
    }  # noqa: E501


def _host_config(options: CreateOptions, binds: list[str]) -> dict[str, Any]:
    restart = _restart_policy(options.restart)
    if options.rm and restart["Name"] != "no":
        raise FlagError("Conflicting options: --restart and --rm")
    return {
        "Binds": binds or None,
        "Memory": _memory(options.memory),
        "NetworkMode": options.network[0] if options.network else "default",
        "AutoRemove": options.rm,
        "Privileged": options.privileged,
        "CapAdd": list(options.cap_add) or None,
        "CapDrop": list(options.cap_drop) or None,
        "ReadonlyRootfs": options.read_only,
        "CpuShares": options.cpu_shares or 0,
        "CpuQuota": options.cpu_quota or 0,
        "CpuPeriod": options.cpu_period or 0,
        "PidsLimit": options.pids_limit,
        "RestartPolicy": restart,
    }


def _entrypoint(value: str | None) -> list[str] | None:
    # docker passes the flag as one element, and "" as [""] to clear the image's.
    return None if value is None else [value]


def _env(values: Sequence[str]) -> list[str] | None:
    """``KEY=VALUE`` as given; a bare ``KEY`` takes this shell's value, if any."""
    env = []
    for item in values:
        if "=" in item:
            env.append(item)
        elif item in os.environ:
            env.append(f"{item}={os.environ[item]}")
    return env or None


def _labels(values: Sequence[str]) -> dict[str, str]:
    labels = {}
    for item in values:
        key, _, value = item.partition("=")
        if not key:
            raise FlagError(f'invalid argument "{item}" for "-l, --label": empty key')
        labels[key] = value
    return labels


def _memory(value: str | None) -> int:
    if value is None:
        return 0
    try:
        return parse_size(value)
    except ValueError as exc:
        raise FlagError(
            f'invalid argument "{value}" for "-m, --memory": {exc}'
        ) from exc


def _volumes(values: Sequence[str]) -> tuple[list[str], list[str]]:
    """Split ``-v`` values into binds (``src:dst[:mode]``, the source a host path
    or a volume's name) and anonymous volumes. A source starting with ``.`` is a
    path relative to here, as docker reads it."""
    binds, anonymous = [], []
    for spec in values:
        parts = spec.split(":")
        if len(parts) == 1 and parts[0].startswith("/"):
            anonymous.append(spec)
            continue
        _check_bind(spec, parts)
        if parts[0].startswith("."):
            parts[0] = os.path.abspath(parts[0])
        binds.append(":".join(parts))
    return binds, anonymous


def _check_bind(spec: str, parts: list[str]) -> None:
    invalid = f"invalid volume specification: '{spec}'"
    if len(parts) not in (2, 3) or not parts[0] or not parts[1].startswith("/"):
        raise FlagError(f"{invalid}: expected src:dst[:ro] with an absolute dst")
    if len(parts) == 3 and not set(parts[2].split(",")) <= _BIND_MODES:
        raise FlagError(f"{invalid}: unknown mode {parts[2]!r} (expected ro or rw)")


def _restart_policy(value: str | None) -> dict[str, Any]:
    """``no``, ``always``, ``unless-stopped`` or ``on-failure[:N]``."""
    name, _, count = (value or "no").partition(":")
    if name not in _RESTART_NAMES:
        expected = ", ".join(_RESTART_NAMES)
        raise FlagError(f"invalid restart policy {value!r}: expected one of {expected}")
    if count and (name != "on-failure" or not count.isdigit()):
        raise FlagError(
            f"invalid restart policy {value!r}: only on-failure takes a count, "
            "a non-negative integer"
        )
    return {"Name": name, "MaximumRetryCount": int(count or 0)}


_MOUNT_KEYS = {
    "type": "Type",
    "source": "Source",
    "src": "Source",
    "target": "Target",
    "destination": "Target",
    "dst": "Target",
}
_TRUE_WORDS = ("", "1", "true")


def _mount(value: str) -> dict[str, Any]:
    """A ``--mount`` value (``type=volume,source=data,target=/data,readonly``) as a
    ``HostConfig.Mounts`` entry; the daemon checks what the entry means."""
    mount: dict[str, Any] = {"Type": "volume"}
    for field in value.split(","):
        key, _, item = field.partition("=")
        key = key.strip().lower()
        if key in _MOUNT_KEYS:
            mount[_MOUNT_KEYS[key]] = item
        elif key in ("readonly", "ro"):
            mount["ReadOnly"] = item.lower() in _TRUE_WORDS
        elif not _mount_option(mount, key, item):
            raise FlagError(
                f'invalid argument "{value}" for "--mount": unknown field {key!r}'
            )
    return mount


def _mount_option(mount: dict[str, Any], key: str, item: str) -> bool:
    """The type-specific fields; False for one unknown."""
    if key == "bind-propagation":
        mount.setdefault("BindOptions", {})["Propagation"] = item
    elif key == "volume-nocopy":
        mount.setdefault("VolumeOptions", {})["NoCopy"] = item.lower() in _TRUE_WORDS
    elif key == "volume-label":
        label, _, label_value = item.partition("=")
        labels = mount.setdefault("VolumeOptions", {}).setdefault("Labels", {})
        labels[label] = label_value
    elif key == "tmpfs-size":
        mount.setdefault("TmpfsOptions", {})["SizeBytes"] = _size_flag("--mount", item)
    elif key == "tmpfs-mode":
        try:
            mode = int(item, 8)
        except ValueError as exc:
            raise FlagError(
                f'invalid argument "{item}" for "--mount": tmpfs-mode is octal'
            ) from exc
        mount.setdefault("TmpfsOptions", {})["Mode"] = mode
    else:
        return False
    return True


def _security_opts(values: Sequence[str]) -> list[str]:
    """As the docker CLI does, ``seccomp=<file>`` sends the profile's JSON itself:
    the file is the client's, not the daemon's."""
    opts = []
    for value in values:
        key, sep, arg = value.partition("=")
        if key == "seccomp" and sep and arg != "unconfined":
            try:
                with open(arg) as f:
                    arg = f.read()
            except OSError as exc:
                raise FlagError(
                    f"opening seccomp profile ({arg}) failed: {exc.strerror}"
                ) from exc
            value = f"seccomp={arg}"
        opts.append(value)
    return opts
