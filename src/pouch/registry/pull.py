"""Pulling an image: manifest (resolved through an index), config, layers.

Order matters for what a crash leaves behind. Layers are downloaded together,
each streamed into containerd's content store while its sha256 and size are
checked; a blob that does not match raises before COMMIT, so the ingest is
aborted and nothing unverified is ever stored. Everything is held by a lease,
so blobs of a pull that stops half-way are collected with it. The layers are
unpacked in order, then the config and manifest (whose labels keep layers and
snapshots alive) are written, and the image record comes last: a name never
points at an image that is not whole.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
from collections.abc import AsyncIterator, Coroutine
from dataclasses import dataclass
from typing import Any

from pouch.ctrd import reference
from pouch.ctrd.imagespec import (
    INDEX_TYPES,
    LABEL_GC_MANIFEST,
    LABEL_GC_SNAPSHOT,
    LABEL_UNCOMPRESSED,
    MANIFEST_TYPES,
    Descriptor,
    chain_ids,
    host_platform,
    manifest_labels,
)
from pouch.ctrd.layercheck import LayerEscape
from pouch.registry import progress
from pouch.registry.auth import Credentials
from pouch.registry.client import Manifest, Repository, first_answer
from pouch.registry.config import RegistryConfig
from pouch.registry.errors import (
    DigestMismatch,
    RegistryError,
    RegistryNotFound,
)
from pouch.registry.store import Store

log = logging.getLogger("pouch.image")

CONCURRENT_DOWNLOADS = 3
_CHUNK = 1024 * 1024


@dataclass(frozen=True)
class PullResult:
    name: str
    digest: str
    updated: bool


@dataclass(frozen=True)
class Target:
    """What a reference names on the wire: registry, repository path, tag/digest."""

    full: str
    domain: str
    path: str
    ref: str

    @classmethod
    def parse(cls, name: str) -> Target:
        ref = reference.parse(name)
        return cls(ref.full, ref.domain, ref.path, ref.object)


async def pull(
    store: Store,
    config: RegistryConfig,
    name: str,
    creds: Credentials | None,
    emit: progress.Emit,
) -> PullResult:
    target = Target.parse(name)

    async def manifest(repo: Repository) -> Manifest:
        return await repo.get_manifest(target.ref)

    top, repo = await first_answer(config, target.domain, target.path, creds, manifest)
    try:
        picked = _for_host(top, target) if top.media_type in INDEX_TYPES else None
        # Only now: a reference that names nothing is an error status, not a stream.
        await emit(progress.status(f"Pulling from {target.path}", target.ref))
        return await _Pull(store, repo, target, emit).run(
            top, picked, reference.familiar(target.full)
        )
    finally:
        await repo.close()


def _familiar_path(target: Target) -> str:
    if target.domain == reference.DEFAULT_DOMAIN:
        return target.path
    return f"{target.domain}/{target.path}"


class _Pull:
    def __init__(
        self, store: Store, repo: Repository, target: Target, emit: progress.Emit
    ) -> None:
        self.store = store
        self.repo = repo
        self.target = target
        self.emit = emit
        self.updated = False

    async def run(
        self, top: Manifest, picked: Descriptor | None, shown: str
    ) -> PullResult:
        lease = await self.store.create_lease("pull")
        try:
            await self._pull(top, picked, lease)
        finally:
            await self.store.delete_lease(lease)
        await self.emit(progress.status(f"Digest: {top.digest}"))
        verb = "Downloaded newer image" if self.updated else "Image is up to date"
        await self.emit(progress.status(f"Status: {verb} for {shown}"))
        log.info("pulled %s (%s)", self.target.full, top.digest)
        return PullResult(self.target.full, top.digest, self.updated)

    async def _pull(self, top: Manifest, picked: Descriptor | None, lease: str) -> None:
        manifest = top
        if picked is not None:
            manifest = await self.repo.get_manifest(picked.digest)
        if manifest.media_type not in MANIFEST_TYPES:
            raise RegistryError(
                f"{self.target.full}: unsupported manifest type {manifest.media_type!r}"
                " (expected a Docker schema 2 or OCI manifest)"
            )
        config_desc, layers = self._parts(manifest)
        config_bytes = await self._small_blob(config_desc)
        diff_ids = _diff_ids(config_bytes, len(layers), self.target.full)
        chains = chain_ids(diff_ids)

        await self._layers(layers, diff_ids, chains, lease)
        await self._write_json(
            config_desc, config_bytes, _config_labels(self.store, chains), lease
        )
        labels = manifest_labels(config_desc.digest, [d.digest for d in layers])
        await self._write_json(_desc(manifest), manifest.body, labels, lease)
        if manifest is not top:
            index_labels = {LABEL_GC_MANIFEST.format(0): manifest.digest}
            await self._write_json(_desc(top), top.body, index_labels, lease)
        before = await self._current_target()
        await self.store.set_image(self.target.full, _desc(top))
        self.updated = self.updated or before != top.digest

    def _parts(self, manifest: Manifest) -> tuple[Descriptor, list[Descriptor]]:
        """The config and layer descriptors; a clear error for a malformed one."""
        try:
            doc = json.loads(manifest.body)
            config = Descriptor.from_json(doc["config"])
            layers = [Descriptor.from_json(d) for d in doc.get("layers") or []]
        except (ValueError, KeyError, TypeError, AttributeError) as err:
            raise RegistryError(
                f"{self.target.full}: manifest {manifest.digest} is malformed: {err!r}"
            ) from err
        return config, layers

    async def _current_target(self) -> str:
        try:
            return (await self.store.target(self.target.full)).digest
        except Exception:  # noqa: BLE001 - no record yet is the common case
            return ""

    # -- layers -------------------------------------------------------------------

    async def _layers(
        self,
        layers: list[Descriptor],
        diff_ids: list[str],
        chains: list[str],
        lease: str,
    ) -> None:
        """Download the missing layers together and unpack each, in order, as soon
        as it and the layers below it are in: unpacking overlaps downloading."""
        missing: list[Descriptor] = []
        for desc in layers:
            if desc in missing:
                continue  # the same layer twice (empty layers often are)
            if await self.store.has_blob(desc.digest):
                await self.emit(
                    progress.status("Already exists", progress.short_id(desc.digest))
                )
            else:
                missing.append(desc)
                await self.emit(
                    progress.status("Pulling fs layer", progress.short_id(desc.digest))
                )
        labels = {
            d.digest: {LABEL_UNCOMPRESSED: i}
            for d, i in zip(layers, diff_ids, strict=True)
        }
        gate = asyncio.Semaphore(CONCURRENT_DOWNLOADS)
        arrived = {d.digest: asyncio.Event() for d in layers}
        for desc in layers:
            if desc not in missing:
                arrived[desc.digest].set()

        async def fetch(desc: Descriptor) -> None:
            async with gate:
                await self._download(desc, labels[desc.digest], lease)
            arrived[desc.digest].set()

        fresh = {d.digest for d in missing}
        unpack = self._unpack(layers, diff_ids, chains, fresh, arrived, lease)
        await together([*(fetch(desc) for desc in missing), unpack])
        if missing:
            self.updated = True

    async def _download(
        self, desc: Descriptor, labels: dict[str, str], lease: str
    ) -> None:
        short = progress.short_id(desc.digest)
        resp = await self.repo.open_blob(desc.digest)
        try:
            chunks = self._verified(resp.content.iter_chunked(_CHUNK), desc, short)
            await self.store.write_blob(desc, chunks, labels, lease)
        finally:
            resp.release()
        await self.emit(progress.status("Download complete", short))

    async def _verified(
        self, chunks: AsyncIterator[bytes], desc: Descriptor, short: str
    ) -> AsyncIterator[bytes]:
        """Pass the chunks on, checking size as they come and the digest at the end;
        raising here makes the content store abort the ingest before COMMIT."""
        h = hashlib.sha256()
        done = 0
        throttle = progress.Throttle(desc.size)
        async for chunk in chunks:
            done += len(chunk)
            if done > desc.size:
                raise DigestMismatch(
                    self._mismatch(desc, f"more than {desc.size} bytes")
                )
            h.update(chunk)
            if throttle.due(done):
                await self.emit(
                    progress.progress("Downloading", short, done, desc.size)
                )
            yield chunk
        if done != desc.size:
            raise DigestMismatch(self._mismatch(desc, f"{done} of {desc.size} bytes"))
        got = "sha256:" + h.hexdigest()
        if got != desc.digest:
            raise DigestMismatch(self._mismatch(desc, f"got {got}"))
        await self.emit(progress.status("Verifying Checksum", short))

    def _mismatch(self, desc: Descriptor, what: str) -> str:
        return (
            f"pulling {self.target.full}: blob {desc.digest} failed verification: "
            f"digest mismatch ({what})"
        )

    async def _unpack(
        self,
        layers: list[Descriptor],
        diff_ids: list[str],
        chains: list[str],
        fresh: set[str],
        arrived: dict[str, asyncio.Event],
        lease: str,
    ) -> None:
        parent = ""
        for desc, diff_id, chain in zip(layers, diff_ids, chains, strict=True):
            short = progress.short_id(desc.digest)
            await arrived[desc.digest].wait()
            if not await self.store.has_snapshot(chain):
                await self.emit(
                    progress.progress("Extracting", short, desc.size, desc.size)
                )
                try:
                    await self.store.apply_layer(desc, diff_id, chain, parent, lease)
                except LayerEscape as err:
                    raise LayerEscape(f"image {self.target.full}: {err}") from err
                self.updated = True
            if desc.digest in fresh:
                await self.emit(progress.status("Pull complete", short))
            parent = chain

    # -- small blobs --------------------------------------------------------------

    async def _small_blob(self, desc: Descriptor) -> bytes:
        """A config: read whole (configs are small) and checked."""
        if await self.store.has_blob(desc.digest):
            return await self.store.read_blob(desc.digest)
        resp = await self.repo.open_blob(desc.digest)
        try:
            data = await resp.read()
        finally:
            resp.release()
        got = "sha256:" + hashlib.sha256(data).hexdigest()
        if got != desc.digest or len(data) != desc.size:
            raise DigestMismatch(self._mismatch(desc, f"got {got}, {len(data)} bytes"))
        return data

    async def _write_json(
        self, desc: Descriptor, data: bytes, labels: dict[str, str], lease: str
    ) -> None:
        await self.store.write_blob(desc, _one(data), labels, lease)


async def together(jobs: list[Coroutine[Any, Any, None]]) -> None:
    """Run the jobs at once; the first failure cancels the rest and is raised
    as itself (not as a group), so callers can tell a digest error from others."""
    try:
        async with asyncio.TaskGroup() as group:
            for job in jobs:
                group.create_task(job)
    except BaseExceptionGroup as failed:
        raise failed.exceptions[0] from None


def _for_host(index: Manifest, target: Target) -> Descriptor:
    """The index entry for this machine; Docker's message if there is none."""
    want_os, want_arch = host_platform()
    for raw in json.loads(index.body).get("manifests") or []:
        plat = raw.get("platform") or {}
        if plat.get("os") == want_os and plat.get("architecture") == want_arch:
            return Descriptor.from_json(raw)
    raise RegistryNotFound(
        f"no matching manifest for {want_os}/{want_arch} in the manifest list "
        f"entries of {target.full}"
    )


def _diff_ids(config_bytes: bytes, count: int, name: str) -> list[str]:
    try:
        config: Any = json.loads(config_bytes)
        diff_ids = list((config.get("rootfs") or {}).get("diff_ids") or [])
    except (ValueError, AttributeError) as err:
        raise RegistryError(f"{name}: image config is malformed: {err}") from err
    if len(diff_ids) != count:
        raise RegistryError(
            f"{name}: image config lists {len(diff_ids)} diff_ids for {count} layers"
        )
    return diff_ids


def _config_labels(store: Store, chains: list[str]) -> dict[str, str]:
    if not chains:
        return {}
    snapshotter = getattr(store, "snapshotter", "overlayfs")
    return {LABEL_GC_SNAPSHOT.format(snapshotter): chains[-1]}


def _desc(manifest: Manifest) -> Descriptor:
    return Descriptor(manifest.media_type, manifest.digest, len(manifest.body))


async def _one(data: bytes) -> AsyncIterator[bytes]:
    yield data
