"""Images: lookup by any name a user gives, load, pull, push, tag, save, import,
list, inspect, history and remove.

containerd keeps one image record per reference; the Docker API shows one image per
config digest with all its references as RepoTags. Both views are made here. An
image with no name is kept by a dangling record (see ``pouch.ctrd.images``), which
shows as an image without RepoTags; an image a container uses always keeps a record.
Registry traffic is ``pouch.registry``'s; this module turns its errors and
containerd's into the API's.
"""

from __future__ import annotations

import asyncio
import contextlib
import fnmatch
import json
import logging
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import aiohttp

from pouch.ctrd import reference
from pouch.ctrd.errors import ContainerdError, ContainerdNotFound
from pouch.ctrd.images import DANGLING_PREFIX, dangling_name, is_dangling
from pouch.ctrd.layercheck import LayerEscape
from pouch.errors import (
    Conflict,
    InvalidParameter,
    NotFound,
    PouchError,
    Unauthorized,
)
from pouch.mgr import imagefiles
from pouch.mgr.events import EventBus
from pouch.mgr.ports import Runtime
from pouch.mgr.records import parse_rfc3339
from pouch.registry import errors as registry_errors
from pouch.registry.auth import Credentials
from pouch.registry.config import RegistryConfig
from pouch.registry.progress import Emit

log = logging.getLogger("pouch.image")

_FILTERS = ("dangling", "reference", "label", "before", "since")


class ImageManager:
    def __init__(
        self,
        runtime: Runtime,
        users_of: Callable[[str], list[str]],
        events: EventBus | None = None,
    ) -> None:
        self.runtime = runtime
        self.events = events or EventBus()
        # container ids using an image id; given by the container manager
        self._users_of = users_of
        # set by the daemon from its config; defaults reach registries as Docker does
        self.registries = RegistryConfig()

    async def resolve(self, name: str) -> Any:
        """The image record for a reference, an id or a short id; 404 otherwise."""
        ref = _full_or_empty(name)
        if ref:
            try:
                return await self.runtime.get_image(ref)
            except ContainerdNotFound:
                pass
            except ContainerdError as exc:
                raise PouchError(f"looking up image {name}: {exc}") from exc
        # A container made from a dangling image names its dangling record, which
        # goes when the image is tagged; the id in that name still finds it.
        by_id = await self._by_id(name.removeprefix(DANGLING_PREFIX))
        if by_id:
            return by_id[0]
        raise NotFound(f"No such image: {name}")

    async def of_container(self, image_id: str, image_ref: str) -> Any:
        """The image a container was made from: its id finds it after its tag moved
        to another image or went (a dangling record keeps it meanwhile)."""
        by_id = await self._by_id(image_id)
        return by_id[0] if by_id else await self.resolve(image_ref)

    async def _by_id(self, name: str) -> list[Any]:
        """The records of the image whose id starts with ``name``, named first."""
        hexpart = name.removeprefix("sha256:")
        if len(hexpart) < 4 or any(c not in "0123456789abcdef" for c in hexpart):
            return []
        images = await self.runtime.list_images()
        found = [i for i in images if i.id.removeprefix("sha256:").startswith(hexpart)]
        return sorted(found, key=lambda image: is_dangling(image.name))

    async def load(self, archive: Path) -> list[str]:
        """Imports a tarball; returns docker's progress lines for the client."""
        images = await self._import(archive)
        lines = []
        for image in images:
            if not is_dangling(image.name):
                lines.append(f"Loaded image: {reference.familiar(image.name)}")
            else:
                lines.append(f"Loaded image ID: {image.id}")
            log.info("image %s loaded as %s", image.id, image.name)
            self._emit("load", image.id, image.name)
        return lines

    async def _import(self, archive: Path) -> list[Any]:
        try:
            return await self.runtime.import_archive(archive)
        except LayerEscape as exc:
            raise InvalidParameter(str(exc)) from exc
        except (ContainerdError, ValueError, KeyError) as exc:
            raise InvalidParameter(f"cannot load image archive: {exc}") from exc

    async def _time_bounds(self, filters: dict[str, list[str]]) -> tuple[float, float]:
        """``since``/``before`` name images; their creation times bound the list."""
        since, before = 0.0, float("inf")
        for name in filters.get("since", []):
            since = max(since, parse_rfc3339((await self.resolve(name)).created))
        for name in filters.get("before", []):
            before = min(before, parse_rfc3339((await self.resolve(name)).created))
        return since, before

    # -- registries -------------------------------------------------------------

    async def pull(self, name: str, creds: Credentials | None, emit: Emit) -> str:
        """Pull ``name`` (tag or digest) and unpack it; returns the full reference."""
        from pouch.registry.pull import pull

        full = _normalize(name)
        store = self._store()
        with _registry_errors():
            result = await pull(store, self.registries, full, creds, emit)
        self._emit("pull", reference.familiar(result.name), result.name)
        return result.name

    async def push(self, name: str, creds: Credentials | None, emit: Emit) -> None:
        from pouch.registry.push import push

        full = _normalize(name)
        await self._must_exist(full)
        with _registry_errors():
            await push(self._store(), self.registries, full, creds, emit)
        self._emit("push", reference.familiar(full), full)

    async def check_login(self, server: str, creds: Credentials) -> None:
        """Authenticate against ``server`` as ``pouch login`` does; raise if refused."""
        from pouch.registry.client import connect

        domain = _login_domain(server)
        with _registry_errors():
            repo = await connect(
                self.registries, domain, "library/pouch-login", creds, "pull"
            )
            await repo.close()

    def _store(self) -> Any:
        return self.runtime.image_store()

    async def _must_exist(self, full: str) -> None:
        try:
            await self.runtime.get_image(full)
        except ContainerdNotFound as exc:
            raise NotFound(f"No such image: {reference.familiar(full)}") from exc

    # -- tag, save, import, history ----------------------------------------------

    async def tag(self, name: str, repo: str, tag: str) -> None:
        image = await self.resolve(name)
        new = f"{repo}:{tag}" if tag else repo
        full = _normalize(new)
        if "@" in full:
            raise InvalidParameter(f"refusing to create a tag with a digest: {new}")
        await self.runtime.tag_image(image.name, full)
        log.info("image %s tagged %s", image.id, full)
        self._emit("tag", image.id, full)

    async def save(self, names: list[str]) -> AsyncIterator[bytes]:
        """The docker-archive of the named images; names resolve before any byte."""
        from pouch.ctrd.export import save

        fulls = []
        for name in names:
            image = await self.resolve(name)
            fulls += await self._names_for(name, image)
            self._emit("save", image.id, image.name)
        return save(self._store(), fulls)

    async def _names_for(self, name: str, image: Any) -> list[str]:
        """An id saves every name of the image; a reference saves itself."""
        try:
            _normalize(name)
        except InvalidParameter:
            pass
        else:
            if image.name == reference.normalize(name):
                return [image.name]
        return [i.name for i in await self.runtime.list_images() if i.id == image.id]

    async def import_rootfs(
        self, tarball: Path, repo: str, tag: str, message: str, changes: list[str]
    ) -> str:
        """Make a one-layer image from a rootfs tarball; returns the image id.
        Without ``repo`` the image has no name (``tag`` alone is ignored, as
        dockerd does)."""
        full = _normalize(f"{repo}:{tag}" if tag else repo) if repo else ""
        archive = tarball.with_suffix(".image.tar")
        try:
            try:
                await asyncio.to_thread(
                    imagefiles.rootfs_archive, tarball, archive, full, message, changes
                )
            except ValueError as exc:
                raise InvalidParameter(f"cannot import rootfs: {exc}") from exc
            images = await self._import(archive)
        finally:
            archive.unlink(missing_ok=True)
        image = images[0]  # without a name, its dangling record
        self._emit("import", image.id, image.name)
        return str(image.id)

    async def history(self, name: str) -> list[dict[str, Any]]:
        image = await self.resolve(name)
        same = [i for i in await self.runtime.list_images() if i.id == image.id]
        store = self._store()
        manifest = json.loads(await store.read_blob(image.manifest_digest))
        sizes = [int(layer["size"]) for layer in manifest.get("layers") or []]
        return imagefiles.history(image, _tags(same), sizes)

    async def inspect(self, name: str) -> dict[str, Any]:
        image = await self.resolve(name)
        same = [i for i in await self.runtime.list_images() if i.id == image.id]
        return self._details(same or [image])

    async def remove(self, name: str, force: bool = False) -> list[dict[str, str]]:
        """Untag the reference ``name``, or every name of the image ``name`` (an
        id); the image goes with its last name unless a container uses it. Then
        ``force`` lets the names go and a dangling record keeps the image."""
        image = await self.resolve(name)
        records = [i for i in await self.runtime.list_images() if i.id == image.id]
        named = [r for r in records if not is_dangling(r.name)]
        by_ref = image.name == _full_or_empty(name)
        if not by_ref and not force and len({_repository(r.name) for r in named}) > 1:
            raise Conflict(
                f"conflict: unable to delete {image.id.removeprefix('sha256:')[:12]} "
                "(must be forced) - image is referenced in multiple repositories"
            )
        targets = [image] if by_ref else named
        last = len(targets) == len(named)
        users = self._users_of(image.id) if last else []
        if users:
            _check_forced(name, image.id, users[0], by_ref, force, bool(named))
            if len(named) == len(records):
                await self.runtime.tag_image(targets[0].name, dangling_name(image.id))
        answer = []
        for target in targets:
            await self.runtime.delete_image(target.name)
            answer.append({"Untagged": reference.familiar(target.name)})
            log.info("image %s untagged %s", target.id, target.name)
            self._emit("untag", image.id, target.name)
        if last and not users:
            for record in records:
                if is_dangling(record.name):
                    await self.runtime.delete_image(record.name)
            answer.append({"Deleted": image.id})
            log.info("image %s deleted", image.id)
            self._emit("delete", image.id, image.id)
        return answer

    def _emit(self, action: str, actor: str, name: str) -> None:
        """An image event as dockerd sends it: the actor is the image id, or the
        reference for pull and push; ``name`` the reference in its familiar form."""
        if is_dangling(name):
            name = name.removeprefix(DANGLING_PREFIX)
        elif name and not name.startswith("sha256:"):
            with contextlib.suppress(ValueError):
                name = reference.familiar(name)
        self.events.emit("image", action, actor, {"name": name})

    def _summary(self, records: list[Any]) -> dict[str, Any]:
        first = records[0]
        return {
            "Id": first.id,
            "ParentId": "",
            "RepoTags": _tags(records),
            "RepoDigests": _digests(records),
            "Created": int(parse_rfc3339(first.created)),
            "Size": first.size,
            "VirtualSize": first.size,
            "SharedSize": -1,
            "Labels": (first.config.get("config") or {}).get("Labels"),
            "Containers": len(self._users_of(first.id)),
        }

    def _details(self, records: list[Any]) -> dict[str, Any]:
        first = records[0]
        config = first.config
        return {
            "Id": first.id,
            "RepoTags": _tags(records),
            "RepoDigests": _digests(records),
            "Parent": "",
            "Comment": config.get("comment", ""),
            "Created": config.get("created", first.created),
            "Container": "",
            "DockerVersion": config.get("docker_version", ""),
            "Author": config.get("author", ""),
            "Config": config.get("config") or {},
            "Architecture": config.get("architecture", ""),
            "Os": config.get("os", "linux"),
            "Size": first.size,
            "VirtualSize": first.size,
            "GraphDriver": {"Name": "overlayfs", "Data": None},
            "RootFS": {
                "Type": "layers",
                "Layers": (config.get("rootfs") or {}).get("diff_ids", []),
            },
            "Metadata": {"LastTagTime": "0001-01-01T00:00:00Z"},
        }

    # Last in the class: below it, ``list`` would name this method.
    async def list(
        self, filters: dict[str, list[str]] | None = None
    ) -> list[dict[str, Any]]:
        filters = filters or {}
        for key in filters:
            if key not in _FILTERS:
                raise InvalidParameter(
                    f"invalid filter {key!r}: images filter on {', '.join(_FILTERS)}"
                )
        groups: dict[str, list[Any]] = {}
        for image in await self.runtime.list_images():
            groups.setdefault(image.id, []).append(image)
        bounds = await self._time_bounds(filters)
        found = []
        for records in groups.values():
            summary = self._summary(records)
            if _matches(summary, filters, bounds):
                found.append(summary)
        return found


def _tags(records: list[Any]) -> list[str]:
    return sorted(
        reference.familiar(r.name) for r in records if r.name and "@" not in r.name
    )


def _digests(records: list[Any]) -> list[str]:
    digests = set()
    for record in records:
        digest = getattr(record, "target_digest", "") or record.manifest_digest
        if record.name and digest and not is_dangling(record.name):
            repo = reference.familiar(record.name).split("@")[0].rsplit(":", 1)[0]
            digests.add(f"{repo}@{digest}")
    return sorted(digests)


def _check_forced(
    name: str, image_id: str, user: str, by_ref: bool, force: bool, named: bool
) -> None:
    """dockerd's conflicts for removing an image the container ``user`` uses:
    forced, the names go; an image with none left cannot go at all."""
    short_id, short_user = image_id.removeprefix("sha256:")[:12], user[:12]
    if by_ref and not force:
        raise Conflict(
            f'conflict: unable to remove repository reference "{name}" (must force)'
            f" - container {short_user} is using its referenced image {short_id}"
        )
    if not force or not named:
        how = "must be forced" if not force else "cannot be forced"
        raise Conflict(
            f"conflict: unable to delete {short_id} ({how}) - image is being used "
            f"by container {short_user}"
        )


def _full_or_empty(name: str) -> str:
    """``name`` in full if it is a reference, else empty (an id, a dangling name)."""
    if is_dangling(name):
        return ""
    try:
        return reference.normalize(name)
    except ValueError:
        return ""


def _normalize(name: str) -> str:
    try:
        return reference.normalize(name)
    except ValueError as exc:
        raise InvalidParameter(str(exc)) from exc


def _login_domain(server: str) -> str:
    """``https://index.docker.io/v1/`` and ``localhost:5000`` alike, as a domain."""
    host = server.split("://", 1)[-1].split("/", 1)[0]
    if host in ("", "index.docker.io", "registry-1.docker.io"):
        return reference.DEFAULT_DOMAIN
    return host


@contextlib.contextmanager
def _registry_errors() -> Iterator[None]:
    """Translate the registry layer's and the layer check's errors for the API."""
    try:
        yield
    except registry_errors.RegistryNotFound as exc:
        raise NotFound(str(exc)) from exc
    except registry_errors.RegistryAuthError as exc:
        raise Unauthorized(str(exc)) from exc
    except LayerEscape as exc:
        raise InvalidParameter(str(exc)) from exc
    except (registry_errors.RegistryError, ContainerdError) as exc:
        raise PouchError(str(exc)) from exc
    except (aiohttp.ClientError, TimeoutError) as exc:
        # The registry's connection broke off mid-transfer.
        raise PouchError(f"registry connection failed: {exc!r}") from exc


def _matches(
    summary: dict[str, Any],
    filters: dict[str, list[str]],
    bounds: tuple[float, float],
) -> bool:
    tags = summary["RepoTags"]
    for value in filters.get("dangling", []):
        want = value.lower() in ("1", "true")
        if want != (not tags):
            return False
    patterns = filters.get("reference", [])
    if patterns and not any(_ref_match(t, p) for t in tags for p in patterns):
        return False
    labels = summary.get("Labels") or {}
    for wanted in filters.get("label", []):
        key, eq, value = wanted.partition("=")
        if key not in labels or (eq and labels[key] != value):
            return False
    since, before = bounds
    return since < summary["Created"] < before or (
        since == 0.0 and before == float("inf")
    )


def _ref_match(tag: str, pattern: str) -> bool:
    """Docker matches the pattern against ``repo:tag`` and against ``repo``."""
    repo = tag.rsplit(":", 1)[0] if ":" in tag.rsplit("/", 1)[-1] else tag
    return fnmatch.fnmatchcase(tag, pattern) or fnmatch.fnmatchcase(repo, pattern)


def _repository(name: str) -> str:
    """``registry/path:tag`` or ``registry/path@digest`` without tag and digest."""
    name = name.partition("@")[0]
    head, slash, last = name.rpartition("/")
    return head + slash + last.partition(":")[0]
