"""Images: lookup by any name a user gives, load, list, inspect and remove.

containerd keeps one image record per reference; the Docker API shows one image per
config digest with all its references as RepoTags. Both views are made here.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pouch.ctrd import reference
from pouch.ctrd.errors import ContainerdError, ContainerdNotFound
from pouch.errors import Conflict, InvalidParameter, NotFound, PouchError
from pouch.mgr.ports import Runtime
from pouch.mgr.records import parse_rfc3339

log = logging.getLogger("pouch.image")


class ImageManager:
    def __init__(self, runtime: Runtime, users_of: Callable[[str], list[str]]) -> None:
        self.runtime = runtime
        # container ids using an image id; given by the container manager
        self._users_of = users_of

    async def resolve(self, name: str) -> Any:
        """The image record for a reference, an id or a short id; 404 otherwise."""
        try:
            ref = reference.normalize(name)
        except ValueError:
            ref = ""
        if ref:
            try:
                return await self.runtime.get_image(ref)
            except ContainerdNotFound:
                pass
            except ContainerdError as exc:
                raise PouchError(f"looking up image {name}: {exc}") from exc
        by_id = await self._by_id(name)
        if by_id:
            return by_id[0]
        raise NotFound(f"No such image: {name}")

    async def _by_id(self, name: str) -> list[Any]:
        hexpart = name.removeprefix("sha256:")
        if len(hexpart) < 4 or any(c not in "0123456789abcdef" for c in hexpart):
            return []
        images = await self.runtime.list_images()
        return [i for i in images if i.id.removeprefix("sha256:").startswith(hexpart)]

    async def load(self, archive: Path) -> list[str]:
        """Imports a tarball; returns docker's progress lines for the client."""
        try:
            images = await self.runtime.import_archive(archive)
        except (ContainerdError, ValueError, KeyError) as exc:
            raise InvalidParameter(f"cannot load image archive: {exc}") from exc
        lines = []
        for image in images:
            if image.name:
                lines.append(f"Loaded image: {reference.familiar(image.name)}")
            else:
                lines.append(f"Loaded image ID: {image.id}")
            log.info("image %s loaded as %s", image.id, image.name)
        return lines

    async def list(self) -> list[dict[str, Any]]:
        groups: dict[str, list[Any]] = {}
        for image in await self.runtime.list_images():
            groups.setdefault(image.id, []).append(image)
        return [self._summary(records) for records in groups.values()]

    async def inspect(self, name: str) -> dict[str, Any]:
        image = await self.resolve(name)
        same = [i for i in await self.runtime.list_images() if i.id == image.id]
        return self._details(same or [image])

    async def remove(self, name: str, force: bool = False) -> list[dict[str, str]]:
        image = await self.resolve(name)
        siblings = [i for i in await self.runtime.list_images() if i.id == image.id]
        by_id = image.id.removeprefix("sha256:").startswith(
            name.removeprefix("sha256:")
        )
        targets = siblings if by_id else [image]
        last = len(targets) == len(siblings)
        users = self._users_of(image.id)
        if users and last and not force:
            raise Conflict(
                f"conflict: unable to remove repository reference {name!r} "
                f"(must force) - container {users[0][:12]} is using its "
                f"referenced image {image.id.removeprefix('sha256:')[:12]}"
            )
        answer = []
        for target in targets:
            await self.runtime.delete_image(target.name)
            answer.append({"Untagged": reference.familiar(target.name)})
            log.info("image %s untagged %s", target.id, target.name)
        if last:
            answer.append({"Deleted": image.id})
        return answer

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


def _tags(records: list[Any]) -> list[str]:
    return sorted(
        reference.familiar(r.name) for r in records if r.name and "@" not in r.name
    )


def _digests(records: list[Any]) -> list[str]:
    digests = set()
    for record in records:
        if record.name and record.manifest_digest:
            repo = reference.familiar(record.name).split("@")[0].rsplit(":", 1)[0]
            digests.add(f"{repo}@{record.manifest_digest}")
    return sorted(digests)
