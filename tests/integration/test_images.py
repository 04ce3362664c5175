"""Image routes on a real daemon: tag, save and load, import, history, filters,
removal while in use."""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path

import pytest

from pouch.client.errors import APIError
from tests.support.daemon import Pouchd
from tests.support.images import image_archive, layer_tar, unique_layers


def _load(daemon: Pouchd, data: bytes) -> str:
    stream = daemon.client.request(
        "POST", "/images/load", None, data, {"Content-Type": "application/x-tar"}
    )
    return stream.read().decode()


def _save(daemon: Pouchd, path: str, query: dict[str, str] | None = None) -> bytes:
    return daemon.client.request("GET", path, query).read()


def test_save_then_load_round_trips(daemon: Pouchd) -> None:
    daemon.api("POST", "/images/busybox/tag", repo="roundtrip/saved", tag="v1")
    before = daemon.api("GET", "/images/roundtrip/saved:v1/json")
    archive = _save(daemon, "/images/roundtrip/saved:v1/get")
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        names = set(tar.getnames())
        manifest = json.load(tar.extractfile("manifest.json"))  # type: ignore[arg-type]
        index = json.load(tar.extractfile("index.json"))  # type: ignore[arg-type]
    assert {"oci-layout", "index.json", "manifest.json"} <= names
    assert manifest[0]["RepoTags"] == ["roundtrip/saved:v1"]
    assert all(layer in names for layer in manifest[0]["Layers"])
    assert index["manifests"][0]["annotations"]["io.containerd.image.name"] == (
        "docker.io/roundtrip/saved:v1"
    )

    daemon.api("DELETE", "/images/roundtrip/saved:v1")
    assert "Loaded image: roundtrip/saved:v1" in _load(daemon, archive)
    after = daemon.api("GET", "/images/roundtrip/saved:v1/json")
    assert after["Id"] == before["Id"]
    assert after["RootFS"] == before["RootFS"]
    digests = {d.split("@")[1] for d in after["RepoDigests"]}
    assert digests == {d.split("@")[1] for d in before["RepoDigests"]}
    daemon.api("DELETE", "/images/roundtrip/saved:v1")


def test_save_of_several_images(daemon: Pouchd, tmp_path: Path) -> None:
    image_archive(tmp_path / "a.tar", "several/a:v1", unique_layers(2, 4096))
    _load(daemon, (tmp_path / "a.tar").read_bytes())
    query = [("names", "busybox"), ("names", "several/a:v1")]
    from urllib.parse import urlencode

    archive = _save(daemon, "/images/get?" + urlencode(query))
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        manifest = json.load(tar.extractfile("manifest.json"))  # type: ignore[arg-type]
    assert sorted(t for e in manifest for t in e["RepoTags"]) == [
        "busybox:latest",
        "several/a:v1",
    ]
    daemon.api("DELETE", "/images/several/a:v1")
    with pytest.raises(APIError) as info:
        _save(daemon, "/images/nosuch:v9/get")
    assert info.value.status == 404


def test_tag_and_bad_tags(daemon: Pouchd) -> None:
    status, _ = daemon.status_of(
        "POST", "/images/busybox/tag", repo="tagged/bb", tag="x"
    )
    assert status == 201
    tags = daemon.api("GET", "/images/busybox/json")["RepoTags"]
    assert "tagged/bb:x" in tags and "busybox:latest" in tags
    status, body = daemon.status_of("POST", "/images/busybox/tag", repo="Bad/Name")
    assert status == 400 and "must be lowercase" in body["message"]
    status, body = daemon.status_of("POST", "/images/nosuch/tag", repo="a/b")
    assert status == 404
    daemon.api("DELETE", "/images/tagged/bb:x")


def test_import_a_rootfs_tarball(daemon: Pouchd) -> None:
    from tests.support.images import busybox_parts

    _, base = busybox_parts()
    stream = daemon.client.request(
        "POST",
        "/images/create?fromSrc=-&repo=imported/rootfs&tag=v1&message=hello"
        "&changes=CMD%20%5B%22echo%22%2C%20%22from-import%22%5D&changes=ENV%20A%3Db",
        None,
        base,
        {"Content-Type": "application/x-tar"},
    )
    image_id = stream.json()["status"]
    image = daemon.api("GET", "/images/imported/rootfs:v1/json")
    assert image["Id"] == image_id
    assert image["Config"]["Cmd"] == ["echo", "from-import"]
    assert image["Config"]["Env"] == ["A=b"]
    assert image["Comment"] == "hello"
    cid = daemon.api("POST", "/containers/create", {"Image": "imported/rootfs:v1"})[
        "Id"
    ]
    daemon.api("POST", f"/containers/{cid}/start")
    assert daemon.wait(cid) == 0
    assert daemon.logs(cid) == b"from-import\n"
    daemon.api("DELETE", f"/containers/{cid}")
    daemon.api("DELETE", "/images/imported/rootfs:v1")

    status, body = daemon.status_of("POST", "/images/create", fromSrc="http://x/y")
    assert status == 400 and "only '-'" in body["message"]


def test_history(daemon: Pouchd, tmp_path: Path) -> None:
    image_archive(tmp_path / "h.tar", "hist/img:v1", unique_layers(2, 1000))
    _load(daemon, (tmp_path / "h.tar").read_bytes())
    rows = daemon.api("GET", "/images/hist/img:v1/history")
    assert [r["CreatedBy"] for r in rows] == ["layer 2", "layer 1", "layer 0"]
    assert rows[0]["Id"].startswith("sha256:") and rows[0]["Tags"] == ["hist/img:v1"]
    assert rows[1]["Id"] == "<missing>"
    assert all(r["Size"] > 0 for r in rows)
    daemon.api("DELETE", "/images/hist/img:v1")


def test_list_filters(daemon: Pouchd, tmp_path: Path) -> None:
    image_archive(tmp_path / "f.tar", "filters/one:v1", [layer_tar({"f": b"1"})])
    _load(daemon, (tmp_path / "f.tar").read_bytes())

    def tags(**filters: list[str]) -> list[str]:
        found = daemon.api("GET", "/images/json", filters=json.dumps(filters))
        return sorted(t for i in found for t in i["RepoTags"])

    assert tags(reference=["filters/*"]) == ["filters/one:v1"]
    assert tags(reference=["busybox"]) == ["busybox:latest"]
    assert tags(dangling=["true"]) == []
    assert "filters/one:v1" in tags(dangling=["false"])
    assert tags(label=["nosuch"]) == []
    status, body = daemon.status_of("GET", "/images/json", filters='{"bogus": ["x"]}')
    assert status == 400 and "invalid filter 'bogus'" in body["message"]
    daemon.api("DELETE", "/images/filters/one:v1")


def test_rmi_of_an_image_in_use_is_409_unless_forced(
    daemon: Pouchd, tmp_path: Path
) -> None:
    image_archive(tmp_path / "u.tar", "inuse/img:v1", unique_layers(1, 1000))
    _load(daemon, (tmp_path / "u.tar").read_bytes())
    image_id = daemon.api("GET", "/images/inuse/img:v1/json")["Id"]
    cid = daemon.create(["true"], Image="inuse/img:v1")
    status, body = daemon.status_of("DELETE", "/images/inuse/img:v1")
    assert status == 409 and "must force" in body["message"]
    # Forced, the name goes; the image stays (dangling) while the container does.
    assert daemon.api("DELETE", "/images/inuse/img:v1", force=1) == [
        {"Untagged": "inuse/img:v1"}
    ]
    assert daemon.api("GET", f"/images/{image_id}/json")["RepoTags"] == []
    daemon.api("DELETE", f"/containers/{cid}")
    assert daemon.api("DELETE", f"/images/{image_id}") == [{"Deleted": image_id}]


def test_cli_tag_save_load_import_history_images(
    daemon: Pouchd, tmp_path: Path
) -> None:
    import subprocess

    from tests.support.daemon import BIN
    from tests.support.images import busybox_parts

    def pouch(*args: str, stdin: bytes | None = None) -> str:
        done = subprocess.run(
            [str(BIN / "pouch"), "-H", daemon.host, *args],
            capture_output=True, input=stdin, timeout=120,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr.decode()
        return done.stdout.decode()

    pouch("tag", "busybox", "clitest/bb:v1")
    pouch("save", "-o", str(tmp_path / "bb.tar"), "clitest/bb:v1")
    assert pouch("rmi", "clitest/bb:v1") == "Untagged: clitest/bb:v1\n"
    assert "Loaded image: clitest/bb:v1" in pouch(
        "load", "-i", str(tmp_path / "bb.tar")
    )
    assert "clitest/bb   v1" in pouch("images", "-f", "reference=clitest/*")
    assert "build_busybox_image.py" in pouch("history", "--no-trunc", "clitest/bb:v1")

    _, base = busybox_parts()
    image_id = pouch("import", "-c", "CMD sh", "-", "clitest/imported:v2", stdin=base)
    assert image_id.strip().startswith("sha256:")
    assert "clitest/imported" in pouch("images", "clitest/imported")
    pouch("rmi", "clitest/bb:v1", "clitest/imported:v2")
