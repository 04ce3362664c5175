"""Test images made on the spot: busybox plus layers of our own, as docker-archives
(to load into a daemon) or straight into a registry over its HTTP API (for what a
daemon would refuse to hold: other platforms, crafted layers)."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import tarfile
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.support.daemon import BUSYBOX_TAR

DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
DOCKER_LAYER_GZIP = "application/vnd.docker.image.rootfs.diff.tar.gzip"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"


def digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def layer_tar(
    files: dict[str, bytes], edit: Callable[[tarfile.TarFile], None] | None = None
) -> bytes:  # noqa: E501
    """An uncompressed layer holding ``files``; ``edit`` may add crafted entries."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mode = 0o644
            info.mtime = 1_700_000_000
            tar.addfile(info, io.BytesIO(data))
        if edit is not None:
            edit(tar)
    return buf.getvalue()


def busybox_parts() -> tuple[dict[str, Any], bytes]:
    """busybox's config and its one (uncompressed) layer."""
    with tarfile.open(BUSYBOX_TAR) as tar:
        entry = json.load(tar.extractfile("manifest.json"))[0]  # type: ignore[arg-type]
        config = json.load(tar.extractfile(entry["Config"]))  # type: ignore[arg-type]
        layer = tar.extractfile(entry["Layers"][0]).read()  # type: ignore[union-attr]
    return config, layer


def image_archive(
    out: Path,
    name: str | None,
    layers: list[bytes],
    run_config: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A docker-archive of busybox with ``layers`` on top, named ``name`` (no name
    if None), ``run_config`` over its Config; returns its config."""
    config, base = busybox_parts()
    config["config"] = {**(config.get("config") or {}), **(run_config or {})}
    all_layers = [base, *layers]
    config["rootfs"]["diff_ids"] = [digest(layer) for layer in all_layers]
    config["history"] = [
        {"created": "2024-01-01T00:00:00Z", "created_by": f"layer {i}"}
        for i in range(len(all_layers))
    ]  # noqa: E501
    config_bytes = json.dumps(config).encode()
    with tarfile.open(out, "w") as tar:
        _add(tar, "config.json", config_bytes)
        paths = []
        for i, layer in enumerate(all_layers):
            paths.append(f"l{i}/layer.tar")
            _add(tar, paths[-1], layer)
        tags = [name] if name else []
        entry = {"Config": "config.json", "RepoTags": tags, "Layers": paths}
        _add(tar, "manifest.json", json.dumps([entry]).encode())
    return config


def unique_layers(count: int, size: int = 256 * 1024) -> list[bytes]:
    """Layers with random content, so no daemon or registry has them yet."""
    return [layer_tar({f"data/file{i}": os.urandom(size)}) for i in range(count)]


def _add(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    tar.addfile(info, io.BytesIO(data))


# -- straight into a registry -----------------------------------------------------


class RegistryWriter:
    """Puts blobs and manifests into a plain-HTTP registry, as a push would."""

    def __init__(self, url: str, repo: str) -> None:
        self.url = url
        self.repo = repo

    def blob(self, data: bytes) -> dict[str, Any]:
        d = digest(data)
        start = urllib.request.Request(
            f"{self.url}/v2/{self.repo}/blobs/uploads/", method="POST"
        )
        with urllib.request.urlopen(start) as resp:
            location = resp.headers["Location"]
        if location.startswith("/"):
            location = self.url + location
        sep = "&" if "?" in location else "?"
        put = urllib.request.Request(
            f"{location}{sep}digest={d}", data=data, method="PUT",
            headers={"Content-Type": "application/octet-stream"},
        )  # fmt: skip
        urllib.request.urlopen(put).close()
        return {"digest": d, "size": len(data)}

    def manifest(self, ref: str, body: bytes, media_type: str) -> str:
        put = urllib.request.Request(
            f"{self.url}/v2/{self.repo}/manifests/{ref}", data=body, method="PUT",
            headers={"Content-Type": media_type},
        )  # fmt: skip
        urllib.request.urlopen(put).close()
        return digest(body)

    def image(
        self, tag: str, config: dict[str, Any], layers: list[bytes], gz: bool = True
    ) -> tuple[str, bytes]:
        """Upload an image (layers gzipped); its manifest's digest and body."""
        config_bytes = json.dumps(config).encode()
        cfg = {"mediaType": DOCKER_CONFIG, **self.blob(config_bytes)}
        descs = []
        for layer in layers:
            data = gzip.compress(layer, mtime=0) if gz else layer
            media = DOCKER_LAYER_GZIP if gz else DOCKER_LAYER_GZIP.removesuffix(".gzip")
            descs.append({"mediaType": media, **self.blob(data)})
        manifest = {
            "schemaVersion": 2, "mediaType": DOCKER_MANIFEST,
            "config": cfg, "layers": descs,
        }  # fmt: skip
        body = json.dumps(manifest).encode()
        return self.manifest(tag, body, DOCKER_MANIFEST), body


ESCAPES = ("dotdot", "absolute", "hardlink", "symlink")


def add_escape(tar: tarfile.TarFile, kind: str, marker: str) -> str:
    """Adds entries that try to write ``marker`` outside the layer's root, one of
    ESCAPES; returns the name of the entry a checker should refuse."""

    def add(info: tarfile.TarInfo, data: bytes = b"") -> None:
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))

    if kind == "dotdot":
        add(tarfile.TarInfo(f"../../../../{marker}"), b"x")
        return f"../../../../{marker}"
    if kind == "absolute":
        add(tarfile.TarInfo(f"/tmp/{marker}"), b"x")
        return f"/tmp/{marker}"
    if kind == "hardlink":
        link = tarfile.TarInfo("etc-passwd")
        link.type, link.linkname = tarfile.LNKTYPE, "../../../../etc/passwd"
        add(link)
        return "etc-passwd"
    if kind == "symlink":
        link = tarfile.TarInfo("out")
        link.type, link.linkname = tarfile.SYMTYPE, "/tmp"
        add(link)
        add(tarfile.TarInfo(f"out/{marker}"), b"x")
        return f"out/{marker}"
    raise ValueError(f"unknown escape {kind!r}: expected one of {ESCAPES}")


def paths_named(root: Path, name: str) -> list[Path]:
    """Every path under ``root`` whose last part is ``name``.

    containerd's collector removes snapshot directories while the walk runs;
    a directory that vanishes under it is skipped (os.walk ignores the error),
    where Path.rglob would raise."""
    found = []
    for parent, subdirs, files in os.walk(root):
        found += [Path(parent, n) for n in (*subdirs, *files) if n == name]
    return found
