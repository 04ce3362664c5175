"""Image format facts: media types, containerd's labels, descriptors, chain ids.

The label names are containerd's conventions: its garbage collector keeps whatever a
label ``containerd.io/gc.ref.<kind>.<suffix>`` points at, and its unpacker records a
layer's uncompressed digest in ``containerd.io/uncompressed``.
"""

from __future__ import annotations

import hashlib
import json
import platform
from dataclasses import dataclass, field
from typing import Any

DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_MANIFEST_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
DOCKER_LAYER = "application/vnd.docker.image.rootfs.diff.tar"
DOCKER_LAYER_GZIP = "application/vnd.docker.image.rootfs.diff.tar.gzip"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_LAYER_ZSTD = "application/vnd.oci.image.layer.v1.tar+zstd"

MANIFEST_TYPES = frozenset({DOCKER_MANIFEST, OCI_MANIFEST})
INDEX_TYPES = frozenset({DOCKER_MANIFEST_LIST, OCI_INDEX})

LABEL_GC_CONFIG = "containerd.io/gc.ref.content.config"
LABEL_GC_LAYER = "containerd.io/gc.ref.content.l.{}"
LABEL_GC_MANIFEST = "containerd.io/gc.ref.content.m.{}"
LABEL_GC_SNAPSHOT = "containerd.io/gc.ref.snapshot.{}"
LABEL_GC_ROOT = "containerd.io/gc.root"
LABEL_GC_EXPIRE = "containerd.io/gc.expire"
LABEL_UNCOMPRESSED = "containerd.io/uncompressed"

ANNOTATION_REF_NAME = "org.opencontainers.image.ref.name"
ANNOTATION_IMAGE_NAME = "io.containerd.image.name"

_GOARCH = {
    "x86_64": "amd64",
    "aarch64": "arm64",
    "armv7l": "arm",
    "armv6l": "arm",
    "i686": "386",
    "i386": "386",
}


@dataclass(frozen=True)
class Descriptor:
    """A content-addressed blob: what it is, its digest and its size."""

    media_type: str
    digest: str
    size: int
    annotations: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> Descriptor:
        return cls(
            media_type=str(raw.get("mediaType", "")),
            digest=str(raw["digest"]),
            size=int(raw["size"]),
            annotations=dict(raw.get("annotations") or {}),
        )

    def to_json(self) -> dict[str, Any]:
        raw: dict[str, Any] = {
            "mediaType": self.media_type,
            "size": self.size,
            "digest": self.digest,
        }
        if self.annotations:
            raw["annotations"] = self.annotations
        return raw


def sha256_digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def chain_ids(diff_ids: list[str]) -> list[str]:
    """The snapshot names of each layer stack: the image-spec's ChainID."""
    chain: list[str] = []
    for diff_id in diff_ids:
        if not chain:
            chain.append(diff_id)
        else:
            chain.append(sha256_digest(f"{chain[-1]} {diff_id}".encode()))
    return chain


def docker_manifest(config: Descriptor, layers: list[Descriptor]) -> bytes:
    """A Docker schema-2 manifest for a config and its layers."""
    manifest = {
        "schemaVersion": 2,
        "mediaType": DOCKER_MANIFEST,
        "config": config.to_json(),
        "layers": [layer.to_json() for layer in layers],
    }
    return json.dumps(manifest, indent=3).encode()


def manifest_labels(config: str, layers: list[str]) -> dict[str, str]:
    """Labels that keep a manifest's config and layers alive."""
    labels = {LABEL_GC_CONFIG: config}
    for i, digest in enumerate(layers):
        labels[LABEL_GC_LAYER.format(i)] = digest
    return labels


def layer_media_type(head: bytes) -> str:
    """Docker's media type for a layer tar, from its first bytes."""
    if head.startswith(b"\x1f\x8b"):
        return DOCKER_LAYER_GZIP
    if head.startswith(b"\x28\xb5\x2f\xfd"):
        return OCI_LAYER_ZSTD
    return DOCKER_LAYER


def host_platform() -> tuple[str, str]:
    """(os, architecture) of this machine, as image indexes spell them."""
    machine = platform.machine()
    return "linux", _GOARCH.get(machine, machine)


def pick_manifest(index: dict[str, Any]) -> Descriptor | None:
    """The index entry for this machine's platform, else the first manifest."""
    want_os, want_arch = host_platform()
    entries = [Descriptor.from_json(m) for m in index.get("manifests") or []]
    raw_entries = index.get("manifests") or []
    for desc, raw in zip(entries, raw_entries, strict=True):
        plat = raw.get("platform") or {}
        if plat.get("os") == want_os and plat.get("architecture") == want_arch:
            return desc
    return entries[0] if entries else None
