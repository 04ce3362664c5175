"""What a pull must not trust: other platforms, corrupted blobs, layers that write
outside their snapshot."""

from __future__ import annotations

import json
import tarfile
import uuid
from pathlib import Path

import pytest

from pouch.client.errors import APIError
from pouch.ctrd.imagespec import host_platform
from tests.support.daemon import Pouchd
from tests.support.images import (
    DOCKER_MANIFEST,
    OCI_INDEX,
    RegistryWriter,
    add_escape,
    busybox_parts,
    digest,
    image_archive,
    layer_tar,
    paths_named,
    unique_layers,
)
from tests.support.registry import Registry

from .conftest import errors, load, pull, push, run_output, statuses


def _content_dir(daemon: Pouchd) -> Path:
    return daemon.home / "containerd/root/io.containerd.content.v1.content"


def test_index_resolves_to_the_host_platform(
    daemon: Pouchd, registry: Registry
) -> None:
    os_name, arch = host_platform()
    other_arch = "s390x" if arch != "s390x" else "amd64"
    writer = RegistryWriter(registry.url, "multi/app")
    config, base = busybox_parts()
    host_digest, host_body = writer.image("host", config, [base])
    other_config = {**config, "architecture": other_arch}
    other_layer = unique_layers(1)[0]
    other_config["rootfs"] = {"type": "layers", "diff_ids": [digest(other_layer)]}
    other_digest, other_body = writer.image("other", other_config, [other_layer])
    index = {
        "schemaVersion": 2,
        "mediaType": OCI_INDEX,
        "manifests": [
            {"mediaType": DOCKER_MANIFEST, "digest": other_digest,
             "size": len(other_body), "platform": {"os": os_name, "architecture": other_arch}},  # noqa: E501
            {"mediaType": DOCKER_MANIFEST, "digest": host_digest,
             "size": len(host_body), "platform": {"os": os_name, "architecture": arch}},  # noqa: E501
        ],
    }  # fmt: skip
    index_digest = writer.manifest("latest", json.dumps(index).encode(), OCI_INDEX)

    name = f"{registry.host}/multi/app:latest"
    msgs = pull(daemon, name)
    assert not errors(msgs), msgs
    assert f"Digest: {index_digest}" in statuses(msgs)
    image = daemon.api("GET", f"/images/{name}/json")
    assert image["Id"] == digest(json.dumps(config).encode())
    assert image["Architecture"] == arch
    assert f"{registry.host}/multi/app@{index_digest}" in image["RepoDigests"]
    assert digest(other_layer) not in registry.log()  # never fetched
    assert run_output(daemon, name, ["echo", arch]) == (0, f"{arch}\n".encode())
    daemon.api("DELETE", f"/images/{name}")

    only_other = {**index, "manifests": index["manifests"][:1]}
    writer.manifest("foreign", json.dumps(only_other).encode(), OCI_INDEX)
    with pytest.raises(APIError) as info:
        pull(daemon, f"{registry.host}/multi/app:foreign")
    assert info.value.status == 404
    assert f"no matching manifest for {os_name}/{arch}" in info.value.message


def test_corrupted_blob_fails_with_a_digest_error_then_repair_succeeds(
    daemon: Pouchd, registry: Registry, tmp_path: Path
) -> None:
    name = f"{registry.host}/test/corrupt:v1"
    layer = unique_layers(1, size=1024 * 1024)[0]
    image_archive(tmp_path / "img.tar", name, [layer])
    load(daemon, tmp_path / "img.tar")
    assert not errors(push(daemon, name))
    daemon.api("DELETE", f"/images/{name}")

    data = registry.blob_data(digest(layer))
    original = data.read_bytes()
    broken = bytearray(original)
    broken[len(broken) // 2] ^= 0xFF
    data.write_bytes(bytes(broken))

    msgs = pull(daemon, name)
    failed = errors(msgs)
    assert len(failed) == 1
    assert f"blob {digest(layer)} failed verification: digest mismatch" in failed[0]
    assert name not in json.dumps(daemon.api("GET", "/images/json"))
    content = _content_dir(daemon)
    assert not (content / "blobs/sha256" / digest(layer).split(":")[1]).exists()
    assert not any((content / "ingest").iterdir())  # the ingest was aborted

    data.write_bytes(original)
    msgs = pull(daemon, name)
    assert not errors(msgs), msgs
    file_digest = digest(_member(layer, "data/file0"))
    code, out = run_output(daemon, name, ["sha256sum", "/data/file0"])
    assert code == 0 and out.split()[0].decode() == file_digest.split(":")[1]
    daemon.api("DELETE", f"/images/{name}")


def _member(layer: bytes, name: str) -> bytes:
    import io

    with tarfile.open(fileobj=io.BytesIO(layer)) as tar:
        return tar.extractfile(name).read()  # type: ignore[union-attr]


# -- layers that escape ------------------------------------------------------------


def _crafted(kind: str, marker: str) -> tuple[bytes, str]:
    """A layer that tries to write ``marker`` outside its root; the bad entry."""
    entries: list[str] = []
    layer = layer_tar(
        {"ok/file": b"fine"}, lambda tar: entries.append(add_escape(tar, kind, marker))
    )
    return layer, entries[0]


def _nothing_written(daemon: Pouchd, marker: str) -> None:
    assert not Path(f"/tmp/{marker}").exists()
    assert not paths_named(daemon.home.parent, marker)


@pytest.mark.parametrize("kind", ["dotdot", "absolute", "hardlink", "symlink"])
def test_loaded_layer_escaping_its_root_is_refused(
    daemon: Pouchd, tmp_path: Path, kind: str
) -> None:
    marker = f"pouch-escape-{uuid.uuid4().hex[:8]}"
    layer, entry = _crafted(kind, marker)
    name = f"escape/{kind}:v1"
    image_archive(tmp_path / "img.tar", name, [layer])
    with pytest.raises(APIError) as info:
        load(daemon, tmp_path / "img.tar")
    assert info.value.status == 400
    message = info.value.message
    assert f"image docker.io/{name}" in message
    assert f"entry {entry!r} refused" in message
    assert name not in json.dumps(daemon.api("GET", "/images/json"))
    _nothing_written(daemon, marker)


def test_pulled_layer_escaping_its_root_is_refused(
    daemon: Pouchd, registry: Registry
) -> None:
    marker = f"pouch-escape-{uuid.uuid4().hex[:8]}"
    layer, entry = _crafted("dotdot", marker)
    config, base = busybox_parts()
    config["rootfs"]["diff_ids"] += [digest(layer)]
    RegistryWriter(registry.url, "escape/pulled").image("v1", config, [base, layer])
    name = f"{registry.host}/escape/pulled:v1"
    msgs = pull(daemon, name)
    failed = errors(msgs)
    assert len(failed) == 1
    assert f"image {name}" in failed[0] and f"entry {entry!r} refused" in failed[0]
    assert name not in json.dumps(daemon.api("GET", "/images/json"))
    _nothing_written(daemon, marker)


def test_interrupted_pull_leaves_nothing_half_written(
    daemon: Pouchd, registry: Registry
) -> None:
    import socket
    import time

    from tests.support.registry import SlowProxy

    config, base = busybox_parts()
    layers = unique_layers(3, size=4 * 1024 * 1024)
    config["rootfs"]["diff_ids"] = [digest(x) for x in [base, *layers]]
    writer = RegistryWriter(registry.url, "test/interrupted")
    writer.image("v1", config, [base, *layers], gz=False)
    proxy = SlowProxy(registry.port, 4 * 1024 * 1024)
    name = f"{proxy.host}/test/interrupted:v1"
    try:
        sock = socket.socket(socket.AF_UNIX)
        sock.connect(str(daemon.socket))
        sock.sendall(
            f"POST /v1.43/images/create?fromImage={name} HTTP/1.1\r\n"
            "Host: pouchd\r\nContent-Length: 0\r\n\r\n".encode()
        )
        seen = b""
        while b'"Downloading"' not in seen:
            seen += sock.recv(4096)
        sock.close()  # the client goes away in the middle of the downloads

        ingest = _content_dir(daemon) / "ingest"
        deadline = time.monotonic() + 30
        while any(ingest.iterdir()) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not any(ingest.iterdir()), "an ingest was left behind"
        assert "test/interrupted" not in json.dumps(daemon.api("GET", "/images/json"))

        msgs = pull(daemon, name)
        assert not errors(msgs), msgs
        code, out = run_output(daemon, name, ["sh", "-c", "ls /data"])
        assert (code, out) == (0, b"file0\nfile1\nfile2\n")
        daemon.api("DELETE", f"/images/{name}")
    finally:
        proxy.stop()
