"""Images in containerd: importing tarballs, unpacking layers, records by name.

An import writes the blobs (layers, config, manifest) into the content store with
the labels that make containerd's collector keep them, unpacks each layer into an
overlayfs snapshot named by its chain id, and only then creates the image records,
so that a record never names an image that cannot run. Everything happens under one
lease, which ends with the import.

containerd keeps an image only while a record names it, but Docker keeps images
that have no name ("dangling" ones): an unnamed image in an archive, or the image a
tag moved away from. Such an image gets a record named ``pouch-dangling@<image id>``,
which no reference can be (a reference's record name always has a domain and a
path), so it never collides with a user's name. It goes as soon as the image gets
a name again.
"""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from datetime import timedelta
from pathlib import Path
from typing import IO, Any

from pouch.ctrd import reference
from pouch.ctrd.archive import Archive, ArchiveError, ArchiveImage, Blob
from pouch.ctrd.conn import Connection
from pouch.ctrd.content import ContentStore, Leases
from pouch.ctrd.errors import (
    ContainerdAlreadyExists,
    ContainerdError,
    ContainerdNotFound,
)
from pouch.ctrd.imagespec import (
    INDEX_TYPES,
    LABEL_GC_SNAPSHOT,
    LABEL_UNCOMPRESSED,
    Descriptor,
    chain_ids,
    manifest_labels,
    pick_manifest,
)
from pouch.ctrd.layercheck import LayerEscape, check_layer
from pouch.ctrd.pb import (
    content_pb2,
    descriptor_pb2,
    diff_pb2,
    images_pb2,
    snapshots_pb2,
)

log = logging.getLogger("pouch.ctrd.image")

_CHUNK = 1024 * 1024
_IMPORT_LEASE = timedelta(hours=1)

DANGLING_PREFIX = "pouch-dangling@"


def dangling_name(image_id: str) -> str:
    """The record name that keeps the image ``image_id`` while it has no name."""
    return DANGLING_PREFIX + image_id


def is_dangling(name: str) -> bool:
    return name.startswith(DANGLING_PREFIX)


def _full_name(name: str) -> str:
    """A record name as containerd holds it: references in full, dangling as is."""
    return name if is_dangling(name) else reference.normalize(name)


@dataclass(frozen=True)
class ImageRecord:
    """An image as containerd holds it, with what running it needs.

    ``id`` is the config digest (Docker's image id); ``chain_id`` names the snapshot
    of all layers, the parent of a container's rootfs; ``size`` sums the layers.
    """

    name: str
    id: str
    manifest_digest: str
    config: dict[str, Any]
    chain_id: str
    size: int
    created: str
    # What the record points at: the manifest, or the index it was picked from
    # (the digest a user pulled by, and so Docker's RepoDigests).
    target_digest: str = ""


class ImageService:
    """Image records, their blobs and their unpacked layers."""

    def __init__(self, conn: Connection, snapshotter: str) -> None:
        self.conn = conn
        self.snapshotter = snapshotter
        self.content = ContentStore(conn)
        self.leases = Leases(conn)
        # Blobs never change, so parsed manifests and configs can be kept.
        self._json: dict[str, Any] = {}

    # -- import ---------------------------------------------------------------

    async def import_archive(self, path: str | Path) -> list[ImageRecord]:
        """Load a docker-archive or OCI-layout tarball; one record per name, and
        one named by ``dangling_name`` per unnamed image."""
        archive = await _open_archive(path)
        try:
            images = await _list_images(archive)
            lease = await self.leases.create("import", _IMPORT_LEASE)
            try:
                records = []
                for image in images:
                    records += await self._import_one(archive, image, lease)
            finally:
                await self.leases.delete(lease)
        finally:
            archive.close()
        return records

    async def _import_one(
        self, archive: Archive, image: ArchiveImage, lease: str
    ) -> list[ImageRecord]:
        chains = chain_ids(image.diff_ids)
        await self._write_blobs(archive, image, chains, lease)
        try:
            await self._unpack(
                [layer.desc for layer in image.layers], image.diff_ids, lease
            )
        except LayerEscape as err:
            what = ", ".join(image.names) or image.config.desc.digest
            raise LayerEscape(f"image {what}: {err}") from err
        target = _descriptor_pb(image.manifest.desc)
        if not image.names:
            return [await self._keep_unnamed(target)]
        records = []
        for name in image.names:
            await self._put_record(name, target, {})
            records.append(await self.get(name))
            log.info("imported image %s (%s)", name, image.config.desc.digest)
        return records

    async def _keep_unnamed(self, target: Any) -> ImageRecord:
        """An unnamed image is kept by a dangling record, unless another record
        already holds it; either way the answer carries the dangling name."""
        record = await self._record(images_pb2.Image(target=target))
        name = dangling_name(record.id)
        if not any(other.id == record.id for other in await self.list()):
            await self._write_record(name, target, {})
            log.info("imported image %s without a name", record.id)
        return replace(record, name=name)

    async def _write_blobs(
        self, archive: Archive, image: ArchiveImage, chains: list[str], lease: str
    ) -> None:
        """Layers first, then config, then manifest: referrers after referees."""
        for layer, diff_id in zip(image.layers, image.diff_ids, strict=True):
            labels = {LABEL_UNCOMPRESSED: diff_id}
            await self._write_blob(archive, layer, labels, lease)
        config_labels = {}
        if chains:
            config_labels[LABEL_GC_SNAPSHOT.format(self.snapshotter)] = chains[-1]
        await self._write_blob(archive, image.config, config_labels, lease)
        layer_digests = [layer.desc.digest for layer in image.layers]
        labels = manifest_labels(image.config.desc.digest, layer_digests)
        await self._write_blob(archive, image.manifest, labels, lease)

    async def _write_blob(
        self, archive: Archive, blob: Blob, labels: dict[str, str], lease: str
    ) -> None:
        existing = await self.content.labels(blob.desc.digest)
        if existing is not None:
            await self.leases.add_content(lease, blob.desc.digest)
            missing = {k: v for k, v in labels.items() if existing.get(k) != v}
            await self.content.set_labels(blob.desc.digest, missing)
            return
        chunks = _blob_chunks(archive, blob)
        await self.content.write(blob.desc, chunks, labels=labels, lease=lease)

    # -- unpack ---------------------------------------------------------------

    async def _unpack(
        self, layers: list[Descriptor], diff_ids: list[str], lease: str
    ) -> None:
        """Apply each layer onto its parent unless its chain-id snapshot exists."""
        parent = ""
        for desc, diff_id, chain in zip(
            layers, diff_ids, chain_ids(diff_ids), strict=True
        ):
            if not await self._snapshot_exists(chain):
                await self._apply_layer(desc, diff_id, chain, parent, lease)
            parent = chain

    async def _snapshot_exists(self, key: str) -> bool:
        req = snapshots_pb2.StatSnapshotRequest(snapshotter=self.snapshotter, key=key)
        try:
            await self.conn.call(
                f"snapshot stat {key}", self.conn.stubs.snapshots.Stat, req
            )
        except ContainerdNotFound:
            return False
        return True

    async def _apply_layer(
        self, desc: Descriptor, diff_id: str, chain: str, parent: str, lease: str
    ) -> None:
        await check_layer(desc.digest, self.blob_chunks(desc.digest))
        key = f"extract-{secrets.token_hex(8)} {chain}"
        snaps = self.conn.stubs.snapshots
        prepared = await self.conn.call(
            f"snapshot prepare {key}",
            snaps.Prepare,
            snapshots_pb2.PrepareSnapshotRequest(
                snapshotter=self.snapshotter, key=key, parent=parent
            ),
            lease=lease,
        )
        try:
            await self._apply(desc, diff_id, list(prepared.mounts), lease)
            await self.conn.call(
                f"snapshot commit {chain}",
                snaps.Commit,
                snapshots_pb2.CommitSnapshotRequest(
                    snapshotter=self.snapshotter, name=chain, key=key
                ),
                lease=lease,
            )
        except ContainerdAlreadyExists:
            # Another import committed the same layer first; theirs is as good.
            await self._remove_snapshot(key)
        except BaseException:
            await self._remove_snapshot(key)
            raise
        log.debug("unpacked layer %s as %s", desc.digest, chain)

    async def _apply(
        self, desc: Descriptor, diff_id: str, mounts: list[Any], lease: str
    ) -> None:
        resp = await self.conn.call(
            f"diff apply {desc.digest}",
            self.conn.stubs.diff.Apply,
            diff_pb2.ApplyRequest(diff=_descriptor_pb(desc), mounts=mounts),
            lease=lease,
        )
        if resp.applied.digest != diff_id:
            raise ContainerdError(
                f"layer {desc.digest} unpacked to {resp.applied.digest}, but the "
                f"image config says {diff_id}"
            )

    async def _remove_snapshot(self, key: str) -> None:
        try:
            await self.conn.call(
                f"snapshot remove {key}",
                self.conn.stubs.snapshots.Remove,
                snapshots_pb2.RemoveSnapshotRequest(
                    snapshotter=self.snapshotter, key=key
                ),
            )
        except ContainerdError as err:
            log.debug("removing snapshot %s failed: %s", key, err)

    # -- records --------------------------------------------------------------

    async def _put_record(self, name: str, target: Any, labels: dict[str, str]) -> None:
        """Name ``target`` ``name``. An image the name moves away from, left with no
        other record, is kept as dangling; the image named loses its dangling record.
        """
        if is_dangling(name):
            await self._write_record(name, target, labels)
            return
        image_id = (await self._record(images_pb2.Image(target=target))).id
        await self._keep_displaced(name, target, image_id)
        await self._write_record(name, target, labels)
        try:
            await self._delete_record(dangling_name(image_id), sync=False)
        except ContainerdNotFound:
            pass

    async def _keep_displaced(self, name: str, target: Any, image_id: str) -> None:
        """Before ``name`` moves to ``target`` (the image ``image_id``): a dangling
        record for the image it names now, if nothing else would keep that image.
        It is written first, so the collector never finds that image unrecorded."""
        try:
            current = await self._get_pb(name)
        except ContainerdNotFound:
            return
        if current.target.digest == target.digest:
            return
        try:
            old = await self._record(current)
        except ContainerdError as err:
            log.warning("image %s moves from an unreadable image: %s", name, err)
            return
        if old.id == image_id:
            return
        others = [r for r in await self.list() if r.id == old.id and r.name != name]
        if not others:
            await self._write_record(
                dangling_name(old.id), current.target, dict(current.labels)
            )
            log.info("image %s lost its name %s: kept as dangling", old.id, name)

    async def _write_record(
        self, name: str, target: Any, labels: dict[str, str]
    ) -> None:
        """Create the image record, or point an existing one at the new target."""
        image = images_pb2.Image(name=name, target=target, labels=labels)
        stub = self.conn.stubs.images
        try:
            await self.conn.call(
                f"image create {name}",
                stub.Create,
                images_pb2.CreateImageRequest(image=image),
            )
        except ContainerdAlreadyExists:
            await self.conn.call(
                f"image update {name}",
                stub.Update,
                images_pb2.UpdateImageRequest(image=image),
            )

    async def get(self, name: str) -> ImageRecord:
        """The image record called ``name`` (any reference form, or dangling)."""
        return await self._record(await self._get_pb(_full_name(name)))

    async def _get_pb(self, full: str) -> Any:
        resp = await self.conn.call(
            f"image {full}",
            self.conn.stubs.images.Get,
            images_pb2.GetImageRequest(name=full),
        )
        return resp.image

    async def list(self) -> list[ImageRecord]:
        resp = await self.conn.call(
            "image list", self.conn.stubs.images.List, images_pb2.ListImagesRequest()
        )
        records = []
        for image in resp.images:
            try:
                records.append(await self._record(image))
            except ContainerdError as err:
                log.warning("skipping image %s: %s", image.name, err)
        return records

    async def delete(self, name: str) -> None:
        """Remove the record; containerd collects blobs nothing else refers to."""
        # sync: the collector runs before the answer, so blobs and snapshots no
        # longer referred to are gone when rmi returns.
        await self._delete_record(_full_name(name), sync=True)

    async def _delete_record(self, full: str, sync: bool) -> None:
        await self.conn.call(
            f"image delete {full}",
            self.conn.stubs.images.Delete,
            images_pb2.DeleteImageRequest(name=full, sync=sync),
        )

    async def tag(self, src: str, new_name: str) -> ImageRecord:
        """Give the image ``src`` another name (moving the name if it is taken).

        ``new_name`` may be the image's dangling name: that keeps the image when
        its last name is about to go.
        """
        source = await self._get_pb(_full_name(src))
        full = _full_name(new_name)
        await self._put_record(full, source.target, dict(source.labels))
        return await self.get(full)

    async def _record(self, image: Any) -> ImageRecord:
        manifest_desc = Descriptor(
            image.target.media_type, image.target.digest, image.target.size
        )
        if manifest_desc.media_type in INDEX_TYPES:
            picked = pick_manifest(await self._read_json(manifest_desc.digest))
            if picked is None:
                raise ContainerdError(f"image {image.name}: empty index")
            manifest_desc = picked
        manifest = await self._read_json(manifest_desc.digest)
        config_digest = manifest["config"]["digest"]
        config = await self._read_json(config_digest)
        diff_ids = list((config.get("rootfs") or {}).get("diff_ids") or [])
        chains = chain_ids(diff_ids)
        return ImageRecord(
            name=image.name,
            id=config_digest,
            manifest_digest=manifest_desc.digest,
            config=config,
            chain_id=chains[-1] if chains else "",
            size=sum(int(layer["size"]) for layer in manifest.get("layers") or []),
            created=str(config.get("created") or ""),
            target_digest=image.target.digest,
        )

    async def blob_chunks(self, digest: str) -> AsyncIterator[bytes]:
        """A blob's bytes as containerd streams them, for blobs of any size."""
        req = content_pb2.ReadContentRequest(digest=digest)
        async for resp in self.conn.stream(
            f"content read {digest}", self.conn.stubs.content.Read, req
        ):
            yield resp.data

    async def _read_json(self, digest: str) -> Any:
        if digest not in self._json:
            data = await self.content.read(digest)
            try:
                self._json[digest] = json.loads(data)
            except ValueError as err:
                raise ContainerdError(f"blob {digest} is not JSON: {err}") from err
        return self._json[digest]


def _descriptor_pb(desc: Descriptor) -> Any:
    return descriptor_pb2.Descriptor(
        media_type=desc.media_type,
        digest=desc.digest,
        size=desc.size,
        annotations=desc.annotations,
    )


async def _open_archive(path: str | Path) -> Archive:
    try:
        return await asyncio.to_thread(Archive, path)
    except ArchiveError as err:
        raise ContainerdError(str(err)) from err


async def _list_images(archive: Archive) -> list[ArchiveImage]:
    try:
        return await asyncio.to_thread(archive.images)
    except (ArchiveError, KeyError, ValueError) as err:
        raise ContainerdError(f"cannot import {archive.path}: {err}") from err


async def _blob_chunks(archive: Archive, blob: Blob) -> AsyncIterator[bytes]:
    """A blob's bytes in chunks, read off the event loop."""
    if blob.data is not None:
        for start in range(0, len(blob.data), _CHUNK):
            yield blob.data[start : start + _CHUNK]
        return
    f: IO[bytes] = await asyncio.to_thread(archive.open_blob, blob)
    try:
        while chunk := await asyncio.to_thread(f.read, _CHUNK):
            yield chunk
    finally:
        f.close()
