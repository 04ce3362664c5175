"""Pushing an image: layers and config first, the manifest last.

A registry accepts a manifest only when every blob it names is there, so blobs
go first (together, those the registry has already skipped), and the manifest
is put under the tag at the end. The manifest is sent byte for byte as stored,
so its digest is the same on both sides. For a record that points at an index
(a pulled multi-platform image) the host's manifest is pushed: the other
platforms' blobs are not here to send.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass

from pouch.ctrd.imagespec import INDEX_TYPES, Descriptor, pick_manifest
from pouch.registry import progress
from pouch.registry.auth import Credentials
from pouch.registry.client import Manifest, Repository, connect
from pouch.registry.config import RegistryConfig
from pouch.registry.pull import Target, _familiar_path, together
from pouch.registry.store import Store

log = logging.getLogger("pouch.image")

CONCURRENT_UPLOADS = 3


@dataclass(frozen=True)
class PushResult:
    tag: str
    digest: str
    size: int


async def push(
    store: Store,
    config: RegistryConfig,
    name: str,
    creds: Credentials | None,
    emit: progress.Emit,
) -> PushResult:
    target = Target.parse(name)
    manifest = await _local_manifest(store, target.full)
    doc = json.loads(manifest.body)
    blobs = [Descriptor.from_json(d) for d in doc.get("layers") or []]
    blobs.append(Descriptor.from_json(doc["config"]))

    repo = await connect(
        config, target.domain, target.path, creds, "pull,push", mirrors=False
    )
    try:
        await emit(
            progress.status(f"The push refers to repository [{_familiar_path(target)}]")
        )
        await _blobs(store, repo, blobs, emit)
        await repo.put_manifest(target.ref, manifest)
    finally:
        await repo.close()
    size = len(manifest.body)
    await emit(progress.status(f"{target.ref}: digest: {manifest.digest} size: {size}"))
    await emit(
        {
            "progressDetail": {},
            "aux": {"Tag": target.ref, "Digest": manifest.digest, "Size": size},
        }
    )
    log.info("pushed %s (%s)", target.full, manifest.digest)
    return PushResult(target.ref, manifest.digest, size)


async def _local_manifest(store: Store, full: str) -> Manifest:
    top = await store.target(full)
    desc = top
    if top.media_type in INDEX_TYPES:
        picked = pick_manifest(json.loads(await store.read_blob(top.digest)))
        if picked is None:
            raise ValueError(f"image {full}: its index lists no manifest")
        desc = picked
    return Manifest(await store.read_blob(desc.digest), desc.media_type, desc.digest)


async def _blobs(
    store: Store, repo: Repository, blobs: list[Descriptor], emit: progress.Emit
) -> None:
    for desc in blobs[:-1]:
        await emit(progress.status("Preparing", progress.short_id(desc.digest)))
    gate = asyncio.Semaphore(CONCURRENT_UPLOADS)

    async def one(desc: Descriptor, is_layer: bool) -> None:
        async with gate:
            await _blob(store, repo, desc, emit if is_layer else None)

    await together([one(desc, i < len(blobs) - 1) for i, desc in enumerate(blobs)])


async def _blob(
    store: Store, repo: Repository, desc: Descriptor, emit: progress.Emit | None
) -> None:
    short = progress.short_id(desc.digest)
    if await repo.has_blob(desc.digest):
        if emit:
            await emit(progress.status("Layer already exists", short))
        return
    chunks = store.blob_chunks(desc.digest)
    if emit:
        chunks = _counted(chunks, desc, short, emit)
    await repo.upload_blob(desc.digest, desc.size, chunks)
    if emit:
        await emit(progress.status("Pushed", short))


async def _counted(
    chunks: AsyncIterator[bytes], desc: Descriptor, short: str, emit: progress.Emit
) -> AsyncIterator[bytes]:
    done = 0
    throttle = progress.Throttle(desc.size)
    async for chunk in chunks:
        done += len(chunk)
        if throttle.due(done):
            await emit(progress.progress("Pushing", short, done, desc.size))
        yield chunk
