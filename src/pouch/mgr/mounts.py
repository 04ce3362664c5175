"""What a create request asks to mount, checked and gathered into one list.

Four parts of a request name mounts, as with dockerd: ``HostConfig.Binds``
(``-v src:dst[:mode]``), ``HostConfig.Mounts`` (``--mount``), the request's
``Volumes`` keys and the image's ``VOLUME``s. The first two say what goes where; a
``Volumes`` key or image volume that neither covers gets a new anonymous volume.
All of it is checked here, before the daemon makes anything, so a bad entry
leaves no container and no volume behind.
"""

from __future__ import annotations

import os
import posixpath
import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from pouch.types import (
    BindSettings,
    CreateRequest,
    MountSettings,
    TmpfsSettings,
    VolumeSettings,
)

VOLUME_NAME_RULE = "[a-zA-Z0-9][a-zA-Z0-9_.-]+"
_VOLUME_NAME = re.compile(f"^{VOLUME_NAME_RULE}$")
PROPAGATIONS = ("private", "rprivate", "shared", "rshared", "slave", "rslave")
_BIND_MODE_GROUPS = (("ro", "rw"), ("z", "Z"), PROPAGATIONS, ("nocopy",))
_MOUNT_TYPES = ("bind", "volume", "tmpfs")


class MountError(ValueError):
    """A bind, mount or volume the request names cannot be honoured; the message
    names the entry and the rule."""


@dataclass(frozen=True)
class MountRequest:
    """One mount as asked, before any volume exists."""

    type: str  # volume, bind or tmpfs
    destination: str
    source: str = ""  # a bind's host path; a volume's name, "" for a new one
    read_only: bool = False
    mode: str = ""
    propagation: str = ""
    non_recursive: bool = False
    # Fill the volume with the image's files at the destination if it is empty.
    copy: bool = True
    labels: dict[str, str] = field(default_factory=dict)  # for a volume it makes
    make_source: bool = False
    options: tuple[str, ...] = ()


def check_volume_name(name: str) -> str:
    if not _VOLUME_NAME.match(name):
        raise MountError(
            f"invalid volume name {name!r}: a local volume's name must match "
            f"{VOLUME_NAME_RULE} (a host directory is given as an absolute path)"
        )
    return name


def plan(
    request: CreateRequest, image_volumes: Iterable[str] = ()
) -> list[MountRequest]:
    """The request's mounts, then an anonymous volume for each ``Volumes`` key and
    image volume that no bind or mount covers."""
    host = request.HostConfig
    if host.VolumesFrom:
        raise MountError("HostConfig.VolumesFrom is not supported: name the volumes")
    if host.VolumeDriver not in ("", "local"):
        raise MountError(_driver_refusal("HostConfig.VolumeDriver", host.VolumeDriver))
    asked = [parse_bind(bind) for bind in host.Binds or []]
    asked += [parse_mount(m, i) for i, m in enumerate(host.Mounts or [])]
    covered: set[str] = set()
    for mount in asked:
        if mount.destination in covered:
            raise MountError(
                f"duplicate mount point {mount.destination}: two binds or mounts "
                "name it"
            )
        covered.add(mount.destination)
    wanted = [(path, "Volumes") for path in request.Volumes or {}]
    wanted += [(path, "the image's Volumes") for path in image_volumes]
    for path, where in wanted:
        destination = _destination(path, f"invalid {where} entry {path!r}")
        if destination not in covered:
            covered.add(destination)
            asked.append(MountRequest("volume", destination))
    return asked


def parse_bind(bind: str) -> MountRequest:
    """``SOURCE:DESTINATION[:MODE]``: SOURCE an absolute host path, or a volume's
    name (made on first use)."""
    what = f"invalid bind {bind!r}"
    parts = bind.split(":")
    if len(parts) not in (2, 3) or not parts[0]:
        raise MountError(
            f"{what}: expected SOURCE:DESTINATION[:MODE], SOURCE a host path or a "
            "volume name"
        )
    source, mode = parts[0], parts[2] if len(parts) == 3 else ""
    destination = _destination(parts[1], what)
    read_only, propagation, nocopy = _bind_mode(mode, what)
    if source.startswith("/"):
        if nocopy:
            raise MountError(f"{what}: nocopy applies to volumes, not host paths")
        return MountRequest(
            "bind", destination, _host_path(source, what), read_only, mode,
            propagation or "rprivate", make_source=True,
        )  # fmt: skip
    if propagation:
        raise MountError(f"{what}: a propagation mode applies to host paths only")
    _checked_name(source, what)
    return MountRequest(
        "volume", destination, source, read_only, mode or "z", copy=not nocopy
    )


def _bind_mode(mode: str, what: str) -> tuple[bool, str, bool]:
    """(read-only, propagation, nocopy) from ``ro,z,rshared`` and the like; at most
    one word of each kind."""
    words = [w for w in mode.split(",") if w] if mode else []
    for word in words:
        group = next((g for g in _BIND_MODE_GROUPS if word in g), None)
        if group is None or sum(w in group for w in words) > 1:
            raise MountError(
                f"{what}: invalid mode {mode!r}: expected a comma-separated list of "
                "at most one each of ro|rw, z|Z, a propagation "
                f"({'|'.join(PROPAGATIONS)}) and nocopy"
            )
    propagation = next((w for w in words if w in PROPAGATIONS), "")
    return "ro" in words, propagation, "nocopy" in words


def parse_mount(mount: MountSettings, index: int) -> MountRequest:
    what = f"invalid HostConfig.Mounts[{index}]"
    destination = _destination(mount.Target, what)
    if mount.Type not in _MOUNT_TYPES:
        raise MountError(
            f"{what}: unknown type {mount.Type!r}: expected bind, volume or tmpfs"
        )
    others = {
        "BindOptions": mount.BindOptions,
        "VolumeOptions": mount.VolumeOptions,
        "TmpfsOptions": mount.TmpfsOptions,
    }
    others.pop(f"{mount.Type.capitalize()}Options")
    for name, value in others.items():
        if value is not None:
            raise MountError(f"{what}: {name} does not apply to a {mount.Type} mount")
    if mount.Type == "bind":
        return _bind_mount(mount, destination, what)
    if mount.Type == "volume":
        return _volume_mount(mount, destination, what)
    return _tmpfs_mount(mount, destination, what)


def _bind_mount(mount: MountSettings, destination: str, what: str) -> MountRequest:
    if not mount.Source.startswith("/"):
        raise MountError(f"{what}: a bind's Source must be an absolute host path")
    source = _host_path(mount.Source, what)
    options = mount.BindOptions or BindSettings()
    propagation = options.Propagation or "rprivate"
    if propagation not in PROPAGATIONS:
        raise MountError(
            f"{what}: invalid propagation {propagation!r}: expected one of "
            f"{', '.join(PROPAGATIONS)}"
        )
    if not options.CreateMountpoint and not os.path.exists(source):
        raise MountError(f"{what}: bind source path does not exist: {source}")
    return MountRequest(
        "bind", destination, source, mount.ReadOnly, "", propagation,
        non_recursive=options.NonRecursive, make_source=options.CreateMountpoint,
    )  # fmt: skip


def _volume_mount(mount: MountSettings, destination: str, what: str) -> MountRequest:
    options = mount.VolumeOptions or VolumeSettings()
    driver = options.DriverConfig
    if driver is not None and (driver.Name not in ("", "local") or driver.Options):
        raise MountError(_driver_refusal(what, driver.Name, bool(driver.Options)))
    if mount.Source:
        _checked_name(mount.Source, what)
    return MountRequest(
        "volume", destination, mount.Source, mount.ReadOnly,
        copy=not options.NoCopy, labels=dict(options.Labels or {}),
    )  # fmt: skip


def _tmpfs_mount(mount: MountSettings, destination: str, what: str) -> MountRequest:
    if mount.Source:
        raise MountError(f"{what}: a tmpfs mount takes no Source")
    options = mount.TmpfsOptions or TmpfsSettings()
    if options.SizeBytes < 0 or not 0 <= options.Mode <= 0o7777:
        raise MountError(
            f"{what}: TmpfsOptions need a SizeBytes of at least 0 and a Mode of "
            f"permission bits, not {options.SizeBytes} and {options.Mode}"
        )
    words = [f"size={options.SizeBytes}"] if options.SizeBytes else []
    words += [f"mode={options.Mode:o}"] if options.Mode else []
    return MountRequest(
        "tmpfs", destination, read_only=mount.ReadOnly, options=tuple(words)
    )


def _driver_refusal(what: str, name: str, options: bool = False) -> str:
    if options:
        return f"{what}: volume driver options are not supported"
    return f"{what}: volume driver {name!r} is not supported: only local is"


def _checked_name(name: str, what: str) -> str:
    try:
        return check_volume_name(name)
    except MountError as exc:
        raise MountError(f"{what}: {exc}") from None


def _host_path(path: str, what: str) -> str:
    if "\0" in path:
        raise MountError(f"{what}: a path cannot hold a NUL character")
    return path


def _destination(path: str, what: str) -> str:
    """The container path, cleaned; never the root, always absolute."""
    if not path.startswith("/"):
        raise MountError(f"{what}: the destination {path!r} must be an absolute path")
    cleaned = "/" + posixpath.normpath(_host_path(path, what)).lstrip("/")
    if cleaned == "/":
        raise MountError(f"{what}: nothing can be mounted over the container's /")
    return cleaned
