"""Importing image tarballs into a real containerd, and the image records."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import subprocess
import sys
import tarfile
from pathlib import Path
from typing import Any

import pytest

from pouch.ctrd.client import Containerd
from pouch.ctrd.errors import ContainerdError, ContainerdNotFound
from pouch.ctrd.imagespec import chain_ids

from .conftest import BUILD_SCRIPT, Run


def _digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _add(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    tar.addfile(info, io.BytesIO(data))


def make_oci_layout(docker_tar: Path, out: Path, ref_name: str) -> str:
    """Rewrite a docker-archive as an OCI image layout with a gzipped layer.

    The layer gets an extra file so that its diff id (and so its snapshot) is new
    and the gzip path of unpacking really runs. Returns the config digest.
    """
    with tarfile.open(docker_tar) as src:
        manifest = json.load(src.extractfile("manifest.json"))[0]  # type: ignore[arg-type]
        config = json.load(src.extractfile(manifest["Config"]))  # type: ignore[arg-type]
        layer = src.extractfile(manifest["Layers"][0]).read()  # type: ignore[union-attr]

    layer = _append_file(layer, "etc/oci-marker", b"oci\n")
    config["rootfs"]["diff_ids"] = [_digest(layer)]
    gz = gzip.compress(layer, mtime=0)
    config_bytes = json.dumps(config).encode()
    oci_manifest = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {
            "mediaType": "application/vnd.oci.image.config.v1+json",
            "digest": _digest(config_bytes),
            "size": len(config_bytes),
        },
        "layers": [
            {
                "mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                "digest": _digest(gz),
                "size": len(gz),
            }
        ],
    }
    manifest_bytes = json.dumps(oci_manifest).encode()
    index = {
        "schemaVersion": 2,
        "manifests": [
            {
                "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "digest": _digest(manifest_bytes),
                "size": len(manifest_bytes),
                "annotations": {"org.opencontainers.image.ref.name": ref_name},
            }
        ],
    }
    with tarfile.open(out, "w") as tar:
        _add(tar, "oci-layout", b'{"imageLayoutVersion":"1.0.0"}')
        _add(tar, "index.json", json.dumps(index).encode())
        for blob in (config_bytes, gz, manifest_bytes):
            _add(tar, "blobs/sha256/" + _digest(blob).split(":")[1], blob)
    return _digest(config_bytes)


def _append_file(layer: bytes, name: str, data: bytes) -> bytes:
    out = io.BytesIO()
    with (
        tarfile.open(fileobj=io.BytesIO(layer)) as src,
        tarfile.open(fileobj=out, mode="w", format=tarfile.USTAR_FORMAT) as dst,
    ):
        for member in src.getmembers():
            body = src.extractfile(member) if member.isfile() else None
            dst.addfile(member, body)
        _add(dst, name, data)
    return out.getvalue()


def test_build_script_is_deterministic(tmp_path: Path, busybox_tar: Path) -> None:
    again = tmp_path / "again.tar"
    subprocess.run([sys.executable, str(BUILD_SCRIPT), str(again)], check=True)
    assert again.read_bytes() == busybox_tar.read_bytes()
    with tarfile.open(again) as tar:
        names = set(tar.getnames())
    assert {"manifest.json", "repositories"} <= names


def test_import_docker_archive(client: Containerd, busybox: Any, run: Run[Any]) -> None:
    assert busybox.name == "docker.io/library/busybox:latest"
    assert busybox.id.startswith("sha256:")
    assert busybox.config["config"]["Cmd"] == ["sh"]
    assert busybox.config["os"] == "linux"
    diff_ids = busybox.config["rootfs"]["diff_ids"]
    assert busybox.chain_id == chain_ids(diff_ids)[-1]
    assert busybox.size > 1_000_000
    assert busybox.created == "2024-01-01T00:00:00Z"

    assert run(client.get_image("busybox")) == busybox
    assert busybox.name in [r.name for r in run(client.list_images())]


def test_import_twice_is_idempotent(
    client: Containerd, busybox: Any, busybox_tar: Path, run: Run[Any]
) -> None:
    (again,) = run(client.import_archive(busybox_tar))
    assert again == busybox


def test_import_oci_layout_with_gzip_layer(
    client: Containerd, busybox: Any, busybox_tar: Path, tmp_path: Path, run: Run[Any]
) -> None:
    oci = tmp_path / "oci.tar"
    config_digest = make_oci_layout(busybox_tar, oci, "docker.io/library/busybox:oci")
    (record,) = run(client.import_archive(oci))
    try:
        assert record.name == "docker.io/library/busybox:oci"
        assert record.id == config_digest
        assert record.chain_id != busybox.chain_id
        # The unpacked snapshot can be used as a rootfs parent.
        mounts = run(client.prepare_rootfs("oci-probe", record.chain_id))
        assert mounts and mounts[0].type in ("overlay", "bind")
        run(client.remove_rootfs("oci-probe"))
    finally:
        run(client.delete_image(record.name))


def test_tag_and_delete(client: Containerd, busybox: Any, run: Run[Any]) -> None:
    tagged = run(client.tag_image("busybox", "localhost:5000/mine:v1"))
    assert tagged.name == "localhost:5000/mine:v1"
    assert tagged.id == busybox.id
    run(client.delete_image("localhost:5000/mine:v1"))
    with pytest.raises(ContainerdNotFound):
        run(client.get_image("localhost:5000/mine:v1"))
    assert run(client.get_image("busybox:latest")).id == busybox.id


def test_missing_image(client: Containerd, run: Run[Any]) -> None:
    with pytest.raises(ContainerdNotFound, match="nosuch"):
        run(client.get_image("nosuch"))


def test_not_an_archive(client: Containerd, tmp_path: Path, run: Run[Any]) -> None:
    junk = tmp_path / "junk.tar"
    with tarfile.open(junk, "w") as tar:
        _add(tar, "hello.txt", b"hello")
    with pytest.raises(ContainerdError, match="neither manifest.json"):
        run(client.import_archive(junk))
