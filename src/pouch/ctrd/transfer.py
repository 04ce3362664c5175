"""What moving images to and from registries needs of containerd, in one place.

``pouch.registry`` pulls and pushes through this small surface and never sees
gRPC: blobs in and out of the content store (with the labels that keep them),
leases, layer by layer unpacking (with each layer's check), and image records.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

from pouch.ctrd.errors import ContainerdError, ContainerdNotFound
from pouch.ctrd.images import ImageRecord, ImageService, _descriptor_pb
from pouch.ctrd.imagespec import Descriptor
from pouch.ctrd.pb import images_pb2

_LEASE = timedelta(hours=1)


class ImageStore:
    """containerd's side of a pull or a push."""

    def __init__(self, service: ImageService) -> None:
        self.service = service
        self.snapshotter = service.snapshotter

    async def create_lease(self, purpose: str) -> str:
        return await self.service.leases.create(purpose, _LEASE)

    async def delete_lease(self, lease: str) -> None:
        await self.service.leases.delete(lease)

    async def has_blob(self, digest: str) -> bool:
        return await self.service.content.labels(digest) is not None

    async def write_blob(
        self,
        desc: Descriptor,
        chunks: AsyncIterator[bytes],
        labels: dict[str, str],
        lease: str,
    ) -> None:
        """Stream a blob in; an existing one is only held by the lease and labelled."""
        existing = await self.service.content.labels(desc.digest)
        if existing is not None:
            await self.service.leases.add_content(lease, desc.digest)
            missing = {k: v for k, v in labels.items() if existing.get(k) != v}
            await self.service.content.set_labels(desc.digest, missing)
            return
        await self.service.content.write(desc, chunks, labels=labels, lease=lease)

    async def label_blob(self, digest: str, labels: dict[str, str]) -> None:
        await self.service.content.set_labels(digest, labels)

    async def read_blob(self, digest: str) -> bytes:
        return await self.service.content.read(digest)

    def blob_chunks(self, digest: str) -> AsyncIterator[bytes]:
        return self.service.blob_chunks(digest)

    async def has_snapshot(self, chain_id: str) -> bool:
        return await self.service._snapshot_exists(chain_id)

    async def apply_layer(
        self, desc: Descriptor, diff_id: str, chain: str, parent: str, lease: str
    ) -> None:
        """Check the layer, unpack it onto ``parent`` and commit it as ``chain``."""
        await self.service._apply_layer(desc, diff_id, chain, parent, lease)

    async def set_image(self, name: str, target: Descriptor) -> ImageRecord:
        await self.service._put_record(name, _descriptor_pb(target), {})
        return await self.service.get(name)

    async def target(self, name: str) -> Descriptor:
        """The descriptor an image record points at (manifest or index)."""
        resp = await self.service.conn.call(
            f"image {name}",
            self.service.conn.stubs.images.Get,
            images_pb2.GetImageRequest(name=name),
        )
        t = resp.image.target
        return Descriptor(t.media_type, t.digest, int(t.size))

    async def get(self, name: str) -> ImageRecord:
        return await self.service.get(name)


__all__ = ["ContainerdError", "ContainerdNotFound", "ImageStore"]
