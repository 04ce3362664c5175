"""Reading image tarballs: ``docker save``'s format and OCI image layouts.

Two layouts exist, and newer ``docker save`` writes both at once:

- docker-archive: ``manifest.json`` lists, per image, the config file, the layer tars
  (possibly symlinks to a shared copy) and ``RepoTags``. There is no manifest blob,
  so we write a Docker schema-2 manifest for it.
- OCI image layout: ``index.json`` points at manifests (or indexes) under
  ``blobs/<alg>/<hex>``, named by annotations. The manifest is kept as it is.

When both are present the OCI side wins: its manifest is the one registries know.
Layers are never read whole into memory: hashing and uploading stream the members.
"""

from __future__ import annotations

import hashlib
import json
import tarfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from pouch.ctrd import reference
from pouch.ctrd.imagespec import (
    ANNOTATION_IMAGE_NAME,
    ANNOTATION_REF_NAME,
    DOCKER_CONFIG,
    DOCKER_MANIFEST,
    INDEX_TYPES,
    Descriptor,
    docker_manifest,
    layer_media_type,
    pick_manifest,
    sha256_digest,
)

_CHUNK = 1024 * 1024


class ArchiveError(ValueError):
    """The tarball is not an image archive we can read; the message says why."""


@dataclass(frozen=True)
class Blob:
    """A blob to upload: its descriptor and where its bytes are."""

    desc: Descriptor
    member: str | None = None
    data: bytes | None = None


@dataclass(frozen=True)
class ArchiveImage:
    """One image found in a tarball, ready to be written to the content store."""

    names: list[str]
    manifest: Blob
    config: Blob
    layers: list[Blob]
    diff_ids: list[str]


class Archive:
    """An open image tarball. Use as a context manager; methods block (file I/O)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        try:
            self._tar = tarfile.open(self.path, "r:*")
            # Every header is read now: a tarball cut short is found before the
            # import writes anything.
            members = self._tar.getmembers()
        except (OSError, EOFError, zlib.error, tarfile.TarError) as err:
            raise ArchiveError(f"not a whole tar archive: {err}") from err
        self._members = {m.name.removeprefix("./"): m for m in members}
        self._digests: dict[str, tuple[str, int, bytes]] = {}

    def __enter__(self) -> Archive:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._tar.close()

    # -- reading members -------------------------------------------------------

    def open_member(self, name: str) -> IO[bytes]:
        """A file object over one member; links are followed."""
        member = self._members.get(name.removeprefix("./"))
        if member is None:
            raise ArchiveError(f"no {name!r} in the archive")
        f = self._tar.extractfile(member)
        if f is None:
            raise ArchiveError(f"{name!r} in the archive is not a regular file")
        return f

    def read_member(self, name: str) -> bytes:
        with self.open_member(name) as f:
            return f.read()

    def read_json(self, name: str) -> Any:
        try:
            return json.loads(self.read_member(name))
        except ValueError as err:
            raise ArchiveError(f"{name} in the archive is not JSON: {err}") from err

    def has(self, name: str) -> bool:
        return name.removeprefix("./") in self._members

    def open_blob(self, blob: Blob) -> IO[bytes]:
        if blob.member is None:
            raise ArchiveError(f"blob {blob.desc.digest} has no archive member")
        return self.open_member(blob.member)

    def _hash_member(self, name: str) -> tuple[str, int, bytes]:
        """Digest, size and first bytes of a member, reading it once in chunks."""
        if name not in self._digests:
            h = hashlib.sha256()
            size, head = 0, b""
            with self.open_member(name) as f:
                while chunk := f.read(_CHUNK):
                    if not head:
                        head = chunk[:8]
                    h.update(chunk)
                    size += len(chunk)
            self._digests[name] = ("sha256:" + h.hexdigest(), size, head)
        return self._digests[name]

    # -- images ---------------------------------------------------------------

    def images(self) -> list[ArchiveImage]:
        """Every image the archive holds, with its normalized names."""
        if self.has("index.json"):
            return self._oci_images()
        if self.has("manifest.json"):
            return self._docker_images()
        raise ArchiveError(
            "it is not an image archive: it has neither manifest.json "
            "(docker save) nor index.json (OCI image layout)"
        )

    def _docker_images(self) -> list[ArchiveImage]:
        entries = self.read_json("manifest.json")
        if not isinstance(entries, list):
            raise ArchiveError("manifest.json in the archive is not a list")
        return [self._docker_image(entry) for entry in entries]

    def _docker_image(self, entry: dict[str, Any]) -> ArchiveImage:
        config_bytes = self.read_member(entry["Config"])
        config = Blob(
            Descriptor(DOCKER_CONFIG, sha256_digest(config_bytes), len(config_bytes)),
            data=config_bytes,
        )
        layers = []
        for path in entry.get("Layers") or []:
            digest, size, head = self._hash_member(path)
            layers.append(Blob(Descriptor(layer_media_type(head), digest, size), path))
        body = docker_manifest(config.desc, [layer.desc for layer in layers])
        manifest = Blob(
            Descriptor(
                DOCKER_MANIFEST,
                sha256_digest(body),
                len(body),
            ),
            data=body,
        )
        names = [reference.normalize(t) for t in entry.get("RepoTags") or []]
        return ArchiveImage(
            names, manifest, config, layers, _diff_ids(config_bytes, len(layers))
        )

    def _oci_images(self) -> list[ArchiveImage]:
        index = self.read_json("index.json")
        images = []
        for raw in index.get("manifests") or []:
            image = self._oci_image(Descriptor.from_json(raw))
            if image is not None:
                images.append(image)
        return images

    def _oci_image(self, top: Descriptor) -> ArchiveImage | None:
        desc: Descriptor | None = top
        if top.media_type in INDEX_TYPES:
            desc = pick_manifest(json.loads(self._blob_bytes(top)))
        if desc is None or not self.has(_blob_path(desc.digest)):
            return None
        manifest_bytes = self._blob_bytes(desc)
        manifest = json.loads(manifest_bytes)
        config_desc = Descriptor.from_json(manifest["config"])
        config_bytes = self._blob_bytes(config_desc)
        layers = [
            Blob(d, _blob_path(d.digest))
            for d in map(Descriptor.from_json, manifest.get("layers") or [])
        ]
        names = self._oci_names(top, config_desc.digest)
        return ArchiveImage(
            names,
            Blob(desc, data=manifest_bytes),
            Blob(config_desc, data=config_bytes),
            layers,
            _diff_ids(config_bytes, len(layers)),
        )

    def _oci_names(self, desc: Descriptor, config_digest: str) -> list[str]:
        """Names from the annotations, else from docker's manifest.json if present."""
        full = desc.annotations.get(ANNOTATION_IMAGE_NAME)
        if full:
            return [reference.normalize(full)]
        ref = desc.annotations.get(ANNOTATION_REF_NAME, "")
        # A bare ref.name is a tag in the OCI spec; only a full name names an image.
        if "/" in ref or ":" in ref:
            return [reference.normalize(ref)]
        return self._docker_tags_for(config_digest)

    def _docker_tags_for(self, config_digest: str) -> list[str]:
        if not self.has("manifest.json"):
            return []
        hex_ = config_digest.split(":", 1)[-1]
        for entry in self.read_json("manifest.json"):
            if hex_ in str(entry.get("Config", "")):
                return [reference.normalize(t) for t in entry.get("RepoTags") or []]
        return []

    def _blob_bytes(self, desc: Descriptor) -> bytes:
        data = self.read_member(_blob_path(desc.digest))
        if sha256_digest(data) != desc.digest:
            raise ArchiveError(f"blob {desc.digest} in the archive fails its digest")
        return data


def _blob_path(digest: str) -> str:
    alg, _, hex_ = digest.partition(":")
    return f"blobs/{alg}/{hex_}"


def _diff_ids(config_bytes: bytes, layer_count: int) -> list[str]:
    """The config's rootfs.diff_ids, checked against the number of layers."""
    config = json.loads(config_bytes)
    diff_ids = list((config.get("rootfs") or {}).get("diff_ids") or [])
    if len(diff_ids) != layer_count:
        raise ArchiveError(
            f"image config lists {len(diff_ids)} diff_ids for {layer_count} layers"
        )
    return diff_ids
