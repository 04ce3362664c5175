"""Reading image tarballs without containerd: layouts, names, media types."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import tarfile
from pathlib import Path

import pytest

from pouch.ctrd.archive import Archive, ArchiveError
from pouch.ctrd.imagespec import (
    DOCKER_LAYER,
    DOCKER_LAYER_GZIP,
    DOCKER_MANIFEST,
    chain_ids,
)

LAYER = b"pretend this is a tar" * 100


def _digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _config(diff_id: str) -> bytes:
    return json.dumps({"os": "linux", "rootfs": {"diff_ids": [diff_id]}}).encode()


def _write(path: Path, members: dict[str, bytes], links: dict[str, str]) -> Path:
    with tarfile.open(path, "w") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        for name, target in links.items():
            info = tarfile.TarInfo(name)
            info.type = tarfile.SYMTYPE
            info.linkname = target
            tar.addfile(info)
    return path


def test_docker_archive_with_shared_and_gzip_layers(tmp_path: Path) -> None:
    gz = gzip.compress(LAYER, mtime=0)
    config = json.dumps(
        {"rootfs": {"diff_ids": [_digest(LAYER), _digest(LAYER), _digest(LAYER)]}}
    ).encode()
    manifest = [
        {
            "Config": "cfg.json",
            "RepoTags": ["busybox:1", "example.com/x/y:2"],
            "Layers": ["a/layer.tar", "b/layer.tar", "c/layer.tar.gz"],
        }
    ]
    path = _write(
        tmp_path / "img.tar",
        {
            "manifest.json": json.dumps(manifest).encode(),
            "cfg.json": config,
            "a/layer.tar": LAYER,
            "c/layer.tar.gz": gz,
        },
        # docker save stores a layer used twice once, with a symlink.
        {"b/layer.tar": "../a/layer.tar"},
    )
    with Archive(path) as archive:
        (image,) = archive.images()
        assert image.names == [
            "docker.io/library/busybox:1",
            "example.com/x/y:2",
        ]
        assert [b.desc.media_type for b in image.layers] == [
            DOCKER_LAYER,
            DOCKER_LAYER,
            DOCKER_LAYER_GZIP,
        ]
        assert [b.desc.digest for b in image.layers] == [
            _digest(LAYER),
            _digest(LAYER),
            _digest(gz),
        ]
        assert image.config.desc.digest == _digest(config)
        assert image.manifest.desc.media_type == DOCKER_MANIFEST
        assert image.manifest.data is not None
        body = json.loads(image.manifest.data)
        assert body["config"]["digest"] == _digest(config)
        with archive.open_blob(image.layers[1]) as f:
            assert f.read() == LAYER


def _oci_members(annotations: dict[str, str]) -> tuple[dict[str, bytes], str]:
    config = _config(_digest(LAYER))
    manifest = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {
                "mediaType": "application/vnd.oci.image.config.v1+json",
                "digest": _digest(config),
                "size": len(config),
            },
            "layers": [
                {
                    "mediaType": "application/vnd.oci.image.layer.v1.tar",
                    "digest": _digest(LAYER),
                    "size": len(LAYER),
                }
            ],
        }
    ).encode()
    index = {
        "schemaVersion": 2,
        "manifests": [
            {
                "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "digest": _digest(manifest),
                "size": len(manifest),
                "annotations": annotations,
            }
        ],
    }
    members = {"index.json": json.dumps(index).encode()}
    for blob in (config, manifest, LAYER):
        members["blobs/sha256/" + _digest(blob)[7:]] = blob
    return members, _digest(config)


def test_oci_layout_named_by_annotation(tmp_path: Path) -> None:
    members, config_digest = _oci_members(
        {"org.opencontainers.image.ref.name": "example.com/app:1.0"}
    )
    with Archive(_write(tmp_path / "oci.tar", members, {})) as archive:
        (image,) = archive.images()
    assert image.names == ["example.com/app:1.0"]
    assert image.config.desc.digest == config_digest
    assert image.layers[0].member == "blobs/sha256/" + _digest(LAYER)[7:]
    assert chain_ids(image.diff_ids) == [_digest(LAYER)]


def test_new_docker_save_names_from_containerd_annotation(tmp_path: Path) -> None:
    members, _ = _oci_members(
        {
            "io.containerd.image.name": "docker.io/library/busybox:latest",
            "org.opencontainers.image.ref.name": "latest",
        }
    )
    with Archive(_write(tmp_path / "new.tar", members, {})) as archive:
        (image,) = archive.images()
    assert image.names == ["docker.io/library/busybox:latest"]


def test_bare_tag_annotation_falls_back_to_repo_tags(tmp_path: Path) -> None:
    members, config_digest = _oci_members({"org.opencontainers.image.ref.name": "1"})
    members["manifest.json"] = json.dumps(
        [
            {
                "Config": "blobs/sha256/" + config_digest[7:],
                "RepoTags": ["busybox:1"],
                "Layers": ["blobs/sha256/" + _digest(LAYER)[7:]],
            }
        ]
    ).encode()
    with Archive(_write(tmp_path / "both.tar", members, {})) as archive:
        (image,) = archive.images()
    assert image.names == ["docker.io/library/busybox:1"]
    # The OCI manifest is kept as it is rather than rewritten.
    assert (
        image.manifest.desc.media_type == "application/vnd.oci.image.manifest.v1+json"
    )


def test_not_an_image_archive(tmp_path: Path) -> None:
    with Archive(_write(tmp_path / "x.tar", {"x": b"1"}, {})) as archive:
        with pytest.raises(ArchiveError, match="neither manifest.json"):
            archive.images()
    (tmp_path / "notatar").write_bytes(b"hello")
    with pytest.raises(ArchiveError, match="not a whole tar archive"):
        Archive(tmp_path / "notatar")


def test_diff_ids_must_match_layers(tmp_path: Path) -> None:
    manifest = [{"Config": "c.json", "RepoTags": ["a:1"], "Layers": ["l.tar"]}]
    path = _write(
        tmp_path / "bad.tar",
        {
            "manifest.json": json.dumps(manifest).encode(),
            "c.json": json.dumps({"rootfs": {"diff_ids": []}}).encode(),
            "l.tar": LAYER,
        },
        {},
    )
    with Archive(path) as archive, pytest.raises(ArchiveError, match="0 diff_ids"):
        archive.images()
