"""Writing images out as ``docker save`` does: a tar stream, made as it is sent.

The archive holds both layouts newer docker writes: an OCI image layout
(``oci-layout``, ``index.json``, ``blobs/sha256/<hex>``) and docker's
``manifest.json`` naming the same blob files, so both the docker CLI and OCI tools
read it, and loading it keeps the manifest digest. Every blob's size is known from
its descriptor, so each tar header is written before its bytes stream from the
content store: nothing is spooled to disk.
"""

from __future__ import annotations

import json
import tarfile
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from pouch.ctrd import reference
from pouch.ctrd.imagespec import (
    ANNOTATION_IMAGE_NAME,
    ANNOTATION_REF_NAME,
    INDEX_TYPES,
    OCI_INDEX,
    Descriptor,
    pick_manifest,
)
from pouch.ctrd.transfer import ImageStore

_BLOCK = 512


@dataclass
class _Image:
    manifest: Descriptor
    config: Descriptor
    layers: list[Descriptor]
    names: list[str] = field(default_factory=list)


async def save(store: ImageStore, names: list[str]) -> AsyncIterator[bytes]:
    """The archive of the images called ``names`` (full references), in chunks."""
    images = await _collect(store, names)
    yield _dir("blobs/") + _dir("blobs/sha256/")
    written: set[str] = set()
    for image in images.values():
        for desc in [*image.layers, image.config, image.manifest]:
            if desc.digest in written:
                continue
            written.add(desc.digest)
            yield _header(_blob_path(desc.digest), desc.size)
            async for chunk in store.blob_chunks(desc.digest):
                yield chunk
            yield b"\0" * (-desc.size % _BLOCK)
    for name, data in _metadata(images):
        yield _header(name, len(data)) + data + b"\0" * (-len(data) % _BLOCK)
    yield b"\0" * (2 * _BLOCK)


async def _collect(store: ImageStore, names: list[str]) -> dict[str, _Image]:
    """The images by manifest digest, each with the names that point at it."""
    images: dict[str, _Image] = {}
    for name in names:
        desc = await store.target(name)
        if desc.media_type in INDEX_TYPES:
            picked = pick_manifest(json.loads(await store.read_blob(desc.digest)))
            if picked is None:
                raise ValueError(f"image {name}: its index lists no manifest")
            desc = picked
        if desc.digest not in images:
            manifest = json.loads(await store.read_blob(desc.digest))
            images[desc.digest] = _Image(
                desc,
                Descriptor.from_json(manifest["config"]),
                [Descriptor.from_json(d) for d in manifest.get("layers") or []],
            )
        if "@" not in name:
            images[desc.digest].names.append(name)
    return images


def _metadata(images: dict[str, _Image]) -> list[tuple[str, bytes]]:
    index_entries, docker_entries = [], []
    for image in images.values():
        for name in image.names or [""]:
            entry = image.manifest.to_json()
            if name:
                tag = name.rsplit(":", 1)[-1]
                entry["annotations"] = {
                    ANNOTATION_IMAGE_NAME: name,
                    ANNOTATION_REF_NAME: tag,
                }
            index_entries.append(entry)
        docker_entries.append(
            {
                "Config": _blob_path(image.config.digest),
                "RepoTags": [reference.familiar(n) for n in image.names],
                "Layers": [_blob_path(d.digest) for d in image.layers],
            }
        )
    index = {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": index_entries}
    return [
        ("oci-layout", b'{"imageLayoutVersion":"1.0.0"}'),
        ("index.json", json.dumps(index).encode()),
        ("manifest.json", json.dumps(docker_entries).encode()),
    ]


def _blob_path(digest: str) -> str:
    alg, _, hex_ = digest.partition(":")
    return f"blobs/{alg}/{hex_}"


def _header(name: str, size: int) -> bytes:
    info = tarfile.TarInfo(name)
    info.size = size
    info.mode = 0o644
    return info.tobuf(tarfile.PAX_FORMAT)


def _dir(name: str) -> bytes:
    info = tarfile.TarInfo(name)
    info.type = tarfile.DIRTYPE
    info.mode = 0o755
    return info.tobuf(tarfile.PAX_FORMAT)


__all__ = ["save"]
