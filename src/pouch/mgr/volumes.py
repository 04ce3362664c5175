"""Volumes of the ``local`` driver: directories under ``<home>/volumes/<name>/_data``.

A volume's record (name, labels, creation time, mount point) lives in the store's
``volumes`` table. Who uses a volume is never recorded twice: its users are the
containers whose mount points name it. A container being created has no record
yet, so its create holds a claim on the volumes it takes until the record is
written; a ``volume rm`` or prune meanwhile sees them in use.

Removal takes the row away first and then renames the directory out of the
names' space (names start with a letter or digit, the trash with ``_``), so a
volume of the same name made while the old tree is being deleted is untouched.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import shutil
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pouch.errors import Conflict, InvalidParameter, NotFound, PouchError
from pouch.mgr import layerdirs, names
from pouch.mgr.events import EventBus
from pouch.mgr.mounts import MountError, MountRequest, check_volume_name
from pouch.mgr.records import MountPoint
from pouch.store.volumes import VolumeStore

log = logging.getLogger("pouch.volume")

DRIVER = "local"
# The label dockerd (23 and later) puts on the volumes it makes for a container;
# prune removes only these unless asked for all.
ANONYMOUS_LABEL = "com.docker.volume.anonymous"
_TRASH_PREFIX = "_removing-"
_LIST_FILTERS = ("dangling", "driver", "label", "name")
_PRUNE_FILTERS = ("all", "label", "label!")


@dataclass
class Volume:
    name: str
    mountpoint: str
    created_at: str
    labels: dict[str, str] = field(default_factory=dict)

    @property
    def anonymous(self) -> bool:
        return ANONYMOUS_LABEL in self.labels

    @property
    def data(self) -> Path:
        return Path(self.mountpoint)

    def to_api(self) -> dict[str, Any]:
        return {
            "CreatedAt": self.created_at,
            "Driver": DRIVER,
            "Labels": dict(self.labels),
            "Mountpoint": self.mountpoint,
            "Name": self.name,
            "Options": None,
            "Scope": "local",
        }


class VolumeManager:
    def __init__(
        self,
        store: VolumeStore,
        root: Path,
        users: Callable[[], Mapping[str, Sequence[str]]],
        events: EventBus,
    ) -> None:
        self.store = store
        self.root = root
        self._recorded_users = users
        self.events = events
        # Container id -> the volumes its create has taken, until its record is
        # written; and those of them the create made, removed if it fails.
        self._claims: dict[str, set[str]] = {}
        self._made: dict[str, list[str]] = {}

    # -- the volume API -----------------------------------------------------------

    def create(
        self,
        name: str = "",
        *,
        driver: str = "",
        options: Mapping[str, str] | None = None,
        labels: Mapping[str, str] | None = None,
    ) -> Volume:
        """The volume ``name``, made if it does not exist (docker answers a create
        of an existing name with that volume); a random 64-hex name if none."""
        if driver not in ("", DRIVER):
            raise InvalidParameter(
                f"volume driver {driver!r} is not supported: only {DRIVER} is"
            )
        if options:
            raise InvalidParameter(
                f"volume {name or '(new)'}: driver options are not supported "
                f"(got {', '.join(sorted(options))})"
            )
        if name:
            _check_name(name)
            existing = self._find(name)
            if existing is not None:
                return existing
        return self._make(name or names.new_id(), dict(labels or {}))

    def get(self, name: str) -> Volume:
        found = self._find(name)
        if found is None:
            raise NotFound(f"get {name}: no such volume")
        return found

    def find(self, filters: Mapping[str, Sequence[str]] | None = None) -> list[Volume]:
        """Volumes by name; ``dangling``, ``name`` (a part of it), ``driver`` and
        ``label`` (key or key=value, all must match) narrow the list."""
        filters = dict(filters or {})
        _check_filters(filters, _LIST_FILTERS)
        dangling = _flag(filters, "dangling")
        users = self.users()
        return [
            volume
            for volume in self._all()
            if (dangling is None or dangling != bool(users.get(volume.name)))
            and _listed(volume, filters)
        ]

    async def remove(self, name: str, force: bool = False) -> None:
        """``force`` only forgives a missing volume; one in use is never removed."""
        volume = self._find(name)
        if volume is None:
            if force:
                return
            raise NotFound(f"get {name}: no such volume")
        users = self.users().get(name)
        if users:
            # dockerd's words; scripts match on them.
            raise Conflict(f"remove {name}: volume is in use - [{', '.join(users)}]")
        await self._delete(volume)

    async def prune(
        self, filters: Mapping[str, Sequence[str]] | None = None
    ) -> tuple[list[str], int]:
        """Removes the volumes no container uses: the anonymous ones, or all of
        them with ``all=true``; ``label`` and ``label!`` narrow the choice. The
        names removed and the bytes they held."""
        filters = dict(filters or {})
        _check_filters(filters, _PRUNE_FILTERS)
        every = bool(_flag(filters, "all"))
        in_use = self.users()
        removed: list[str] = []
        reclaimed = 0
        for volume in self._all():
            if not (every or volume.anonymous) or not _labels_pass(volume, filters):
                continue
            if in_use.get(volume.name):
                continue
            size = await asyncio.to_thread(layerdirs.bytes_under, volume.data)
            # Asked after the await, right before the row goes: a create may have
            # taken the volume meanwhile.
            if self.users().get(volume.name) or self._find(volume.name) is None:
                continue
            await self._delete(volume)
            removed.append(volume.name)
            reclaimed += size
        return removed, reclaimed

    async def usage(self) -> list[dict[str, Any]]:
        """Every volume with its ``UsageData`` (bytes held, containers using it),
        as ``/system/df`` shows them."""
        users = self.users()
        docs = []
        for volume in self._all():
            size = await asyncio.to_thread(layerdirs.bytes_under, volume.data)
            usage = {"Size": size, "RefCount": len(users.get(volume.name) or [])}
            docs.append({**volume.to_api(), "UsageData": usage})
        return docs

    def users(self) -> dict[str, list[str]]:
        """Volume name -> the ids of the containers that use it, those being
        created included."""
        found = {name: list(ids) for name, ids in self._recorded_users().items()}
        for cid, claimed in self._claims.items():
            for name in claimed:
                if cid not in found.setdefault(name, []):
                    found[name].append(cid)
        return found

    # -- for containers ---------------------------------------------------------

    @contextlib.asynccontextmanager
    async def claim(self, cid: str) -> AsyncIterator[None]:
        """Holds the volumes ``mount_points`` takes for ``cid`` until the block
        ends; if it fails, the volumes made for it are removed again."""
        self._claims[cid] = set()
        self._made[cid] = []
        try:
            yield
        except BaseException:
            made = self._made.get(cid, [])
            self._claims.pop(cid, None)
            for name in made:
                with contextlib.suppress(PouchError):
                    await self.remove(name)
            raise
        finally:
            self._claims.pop(cid, None)
            self._made.pop(cid, None)

    async def mount_points(
        self, cid: str, asked: Sequence[MountRequest], rootfs_dirs: Sequence[Path]
    ) -> list[MountPoint]:
        """The mount points of a container being created (inside ``claim``): its
        volumes found or made, and a new or empty one filled with the image's
        files at its destination unless the request said nocopy."""
        points = []
        for request in asked:
            if request.type != "volume":
                points.append(_plain_point(request))
                continue
            volume = self._take(cid, request)
            if request.copy:
                await self._fill(volume, request.destination, rootfs_dirs)
            points.append(
                MountPoint(
                    type="volume",
                    destination=request.destination,
                    source=volume.mountpoint,
                    name=volume.name,
                    read_only=request.read_only,
                    mode=request.mode,
                    anonymous=not request.source,
                )
            )
        return points

    async def remove_anonymous(self, points: Sequence[MountPoint]) -> None:
        """A removed container's own volumes (``rm -v``); one that another
        container still uses stays, as with docker."""
        for point in points:
            if point.type == "volume" and point.anonymous:
                with contextlib.suppress(NotFound, Conflict):
                    await self.remove(point.name)

    def close(self) -> None:
        self.store.close()

    def clean_leftovers(self) -> None:
        """Trees whose removal a stopped daemon left half done."""
        if not self.root.is_dir():
            return
        for entry in self.root.iterdir():
            if entry.name.startswith(_TRASH_PREFIX):
                shutil.rmtree(entry, ignore_errors=True)

    # -- records and directories ----------------------------------------------------

    def _take(self, cid: str, request: MountRequest) -> Volume:
        name = request.source or names.new_id()
        self._claims[cid].add(name)
        existing = self._find(name)
        if existing is not None:
            existing.data.mkdir(parents=True, exist_ok=True)
            return existing
        labels = dict(request.labels)
        if not request.source:
            labels[ANONYMOUS_LABEL] = ""
        volume = self._make(name, labels)
        self._made[cid].append(name)
        return volume

    async def _fill(
        self, volume: Volume, destination: str, rootfs_dirs: Sequence[Path]
    ) -> None:
        if not rootfs_dirs or any(volume.data.iterdir()):
            return
        try:
            await asyncio.to_thread(
                layerdirs.copy_path, list(rootfs_dirs), destination, volume.data
            )
        except OSError as exc:
            raise PouchError(
                f"volume {volume.name}: cannot copy the image's {destination} into "
                f"it: {exc}"
            ) from exc

    def _make(self, name: str, labels: dict[str, str]) -> Volume:
        data = self.root / name / "_data"
        try:
            self.root.mkdir(mode=0o701, parents=True, exist_ok=True)
            data.mkdir(mode=0o755, parents=True, exist_ok=True)
        except OSError as exc:
            raise PouchError(f"volume {name}: cannot make {data}: {exc}") from exc
        volume = Volume(
            name=name, mountpoint=str(data), created_at=_now(), labels=labels
        )
        try:
            self.store.put(name, asdict(volume))
        except BaseException:
            shutil.rmtree(self.root / name, ignore_errors=True)
            raise
        log.info("volume %s created", name)
        self.events.emit("volume", "create", name, {"driver": DRIVER})
        return volume

    async def _delete(self, volume: Volume) -> None:
        self.store.delete(volume.name)
        trash = self.root / f"{_TRASH_PREFIX}{secrets.token_hex(8)}"
        with contextlib.suppress(FileNotFoundError):
            os.rename(self.root / volume.name, trash)
            await asyncio.to_thread(shutil.rmtree, trash, ignore_errors=True)
        log.info("volume %s removed", volume.name)
        self.events.emit("volume", "destroy", volume.name, {"driver": DRIVER})

    def _find(self, name: str) -> Volume | None:
        doc = self.store.get(name)
        return Volume(**doc) if doc is not None else None

    def _all(self) -> list[Volume]:
        return [Volume(**doc) for doc in self.store.all()]


def _plain_point(request: MountRequest) -> MountPoint:
    return MountPoint(
        type=request.type,
        destination=request.destination,
        source=request.source,
        read_only=request.read_only,
        mode=request.mode,
        propagation=request.propagation,
        non_recursive=request.non_recursive,
        make_source=request.make_source,
        options=list(request.options),
    )


def _check_name(name: str) -> None:
    try:
        check_volume_name(name)
    except MountError as exc:
        raise InvalidParameter(str(exc)) from exc


def _check_filters(filters: Mapping[str, Sequence[str]], known: Sequence[str]) -> None:
    for key in filters:
        if key not in known:
            raise InvalidParameter(
                f"invalid filter {key!r}: expected one of {', '.join(known)}"
            )


def _flag(filters: Mapping[str, Sequence[str]], key: str) -> bool | None:
    """A true/false filter; None when not given."""
    values = {v.lower() for v in filters.get(key) or []}
    if not values:
        return None
    if values <= {"true", "1"}:
        return True
    if values <= {"false", "0"}:
        return False
    raise InvalidParameter(
        f"invalid filter '{key}={','.join(sorted(values))}': expected true or false"
    )


def _listed(volume: Volume, filters: Mapping[str, Sequence[str]]) -> bool:
    parts = filters.get("name") or []
    drivers = filters.get("driver") or []
    return (
        (not parts or any(part in volume.name for part in parts))
        and (not drivers or DRIVER in drivers)
        and _labels_pass(volume, filters)
    )


def _has_label(volume: Volume, wanted: str) -> bool:
    key, sep, value = wanted.partition("=")
    return key in volume.labels and (not sep or volume.labels[key] == value)


def _labels_pass(volume: Volume, filters: Mapping[str, Sequence[str]]) -> bool:
    """``label`` filters must all match, ``label!`` ones must all miss."""
    wanted = filters.get("label") or []
    unwanted = filters.get("label!") or []
    return all(_has_label(volume, w) for w in wanted) and not any(
        _has_label(volume, u) for u in unwanted
    )


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
