"""Images without a name, as dockerd keeps them: untagged imports, unnamed images in
archives, and images a tag moved away from. Each is listed with no RepoTags, found
by id, removed by id or by image prune, and kept while a container uses it."""

from __future__ import annotations

import http.client
import io
import json
import socket
import subprocess
import tarfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.daemon import BIN, Pouchd
from tests.support.images import busybox_parts, image_archive, layer_tar


@pytest.fixture(autouse=True)
def _cleanup(daemon: Pouchd) -> Iterator[None]:
    """A failed test leaves neither containers nor test images to the next."""
    before = {c["Id"] for c in daemon.api("GET", "/containers/json", all=1)}
    yield
    for container in daemon.api("GET", "/containers/json", all=1):
        if container["Id"] not in before:
            daemon.api("DELETE", f"/containers/{container['Id']}", force=1)
    ours = daemon.api("GET", "/images/json", filters='{"reference": ["dangle/*"]}')
    for tag in [t for image in ours for t in image["RepoTags"]]:
        daemon.api("DELETE", f"/images/{tag}")
    daemon.api("POST", "/images/prune")


def _load(daemon: Pouchd, path: Path) -> str:
    stream = daemon.client.request(
        "POST", "/images/load", None, path.read_bytes(),
        {"Content-Type": "application/x-tar"},
    )  # fmt: skip
    return "".join(json.loads(line)["stream"] for line in stream.read().splitlines())


def _import(daemon: Pouchd, query: str = "") -> str:
    _, base = busybox_parts()
    stream = daemon.client.request(
        "POST", f"/images/create?fromSrc=-{query}", None, base,
        {"Content-Type": "application/x-tar"},
    )  # fmt: skip
    return str(stream.json()["status"])


def _dangling_ids(daemon: Pouchd) -> list[str]:
    found = daemon.api(
        "GET", "/images/json", filters=json.dumps({"dangling": ["true"]})
    )
    return [image["Id"] for image in found]


def _listed(daemon: Pouchd, image_id: str) -> Any:
    found = [i for i in daemon.api("GET", "/images/json") if i["Id"] == image_id]
    assert len(found) == 1, f"image {image_id} is listed {len(found)} times"
    return found[0]


def _listed_by_old_client(daemon: Pouchd, image_id: str) -> Any:
    """The image as /v1.41/images/json lists it (the client always asks 1.43)."""
    conn = http.client.HTTPConnection("localhost")
    conn.sock = socket.socket(socket.AF_UNIX)
    conn.sock.connect(str(daemon.socket))
    conn.request("GET", "/v1.41/images/json")
    images = json.loads(conn.getresponse().read())
    conn.close()
    return next(i for i in images if i["Id"] == image_id)


def _marker_image(daemon: Pouchd, out: Path, name: str, text: str) -> str:
    """Load busybox with /marker holding ``text`` and MARK=``text`` in its Env,
    as ``name``; its id."""
    run_config = {"Env": ["PATH=/bin", f"MARK={text}"]}
    image_archive(out, name, [layer_tar({"marker": text.encode()})], run_config)
    assert _load(daemon, out) == f"Loaded image: {name}\n"
    return str(daemon.api("GET", f"/images/{name}/json")["Id"])


def _events(daemon: Pouchd, since: float) -> list[tuple[str, str, str]]:
    query = {
        "since": f"{since:.3f}",
        "until": f"{time.time() + 0.1:.3f}",
        "filters": json.dumps({"type": ["image"]}),
    }
    body = daemon.client.request("GET", "/events", query=query).read()
    events = [json.loads(line) for line in body.splitlines() if line.strip()]
    return [(e["Action"], e["Actor"]["ID"], e["Actor"]["Attributes"]["name"])
            for e in events]  # fmt: skip


def test_import_without_repo_makes_a_dangling_image(daemon: Pouchd) -> None:
    since = time.time()
    image_id = _import(daemon, "&message=untagged")
    assert image_id.startswith("sha256:")

    short = image_id.removeprefix("sha256:")[:12]
    for name in (image_id, short, image_id.removeprefix("sha256:")):
        image = daemon.api("GET", f"/images/{name}/json")
        assert (image["Id"], image["RepoTags"], image["RepoDigests"]) == (
            image_id, [], []
        )  # fmt: skip
    assert image["Comment"] == "untagged"
    listed = _listed(daemon, image_id)
    assert (listed["RepoTags"], listed["RepoDigests"]) == ([], [])
    old = _listed_by_old_client(daemon, image_id)
    assert (old["RepoTags"], old["RepoDigests"]) == (
        ["<none>:<none>"],
        ["<none>@<none>"],
    )
    assert image_id in _dangling_ids(daemon)
    dangling_false = daemon.api(
        "GET", "/images/json", filters=json.dumps({"dangling": ["false"]})
    )
    assert image_id not in [i["Id"] for i in dangling_false]
    assert image_id not in [
        i["Id"]
        for i in daemon.api("GET", "/images/json", filters='{"reference": ["*"]}')
    ]
    history = daemon.api("GET", f"/images/{short}/history")
    assert history[0]["Id"] == image_id and history[0]["Tags"] is None

    assert daemon.api("DELETE", f"/images/{short}") == [{"Deleted": image_id}]
    assert daemon.status_of("GET", f"/images/{image_id}/json")[0] == 404
    assert _events(daemon, since) == [
        ("import", image_id, image_id),
        ("delete", image_id, image_id),
    ]


def test_load_of_an_unnamed_image_and_save_by_id(
    daemon: Pouchd, tmp_path: Path
) -> None:
    config = image_archive(tmp_path / "unnamed.tar", None, [layer_tar({"u": b"1"})])
    loaded = _load(daemon, tmp_path / "unnamed.tar")
    assert loaded.startswith("Loaded image ID: sha256:")
    image_id = loaded.removeprefix("Loaded image ID: ").strip()
    assert daemon.api("GET", f"/images/{image_id}/json")["RepoTags"] == []
    assert image_id in _dangling_ids(daemon)
    assert (
        config["rootfs"]["diff_ids"]
        == (daemon.api("GET", f"/images/{image_id}/json")["RootFS"]["Layers"])
    )

    # Saved by id, it has no name in either layout, and loads back unnamed.
    saved = daemon.client.request("GET", f"/images/{image_id[7:19]}/get").read()
    with tarfile.open(fileobj=io.BytesIO(saved)) as tar:
        manifest = json.load(tar.extractfile("manifest.json"))  # type: ignore[arg-type]
        index = json.load(tar.extractfile("index.json"))  # type: ignore[arg-type]
    assert manifest[0]["RepoTags"] == []
    assert "annotations" not in index["manifests"][0]
    daemon.api("DELETE", f"/images/{image_id}")
    (tmp_path / "saved.tar").write_bytes(saved)
    assert _load(daemon, tmp_path / "saved.tar") == f"Loaded image ID: {image_id}\n"

    # An unnamed copy of an image that has a name leaves the name as it was.
    assert _load(daemon, tmp_path / "unnamed.tar") == f"Loaded image ID: {image_id}\n"
    daemon.api("POST", f"/images/{image_id}/tag", repo="dangle/named", tag="v1")
    assert _load(daemon, tmp_path / "unnamed.tar") == f"Loaded image ID: {image_id}\n"
    assert daemon.api("GET", f"/images/{image_id}/json")["RepoTags"] == [
        "dangle/named:v1"
    ]
    assert image_id not in _dangling_ids(daemon)
    daemon.api("DELETE", "/images/dangle/named:v1")
    assert daemon.status_of("GET", f"/images/{image_id}/json")[0] == 404


def test_a_moved_tag_leaves_the_old_image_dangling(
    daemon: Pouchd, tmp_path: Path
) -> None:
    first = _marker_image(daemon, tmp_path / "a.tar", "dangle/moved:v1", "a")
    second = _marker_image(daemon, tmp_path / "b.tar", "dangle/moved:v1", "b")
    assert daemon.api("GET", "/images/dangle/moved:v1/json")["Id"] == second
    assert _listed(daemon, first)["RepoTags"] == []
    assert _dangling_ids(daemon) == [first]

    # Tagging the dangling image names it again; the tag it takes leaves the
    # other image dangling in turn.
    daemon.api("POST", f"/images/{first[7:19]}/tag", repo="dangle/moved", tag="v1")
    assert _dangling_ids(daemon) == [second]
    assert daemon.api("GET", f"/images/{first}/json")["RepoTags"] == ["dangle/moved:v1"]
    # A second name of the same image moving away leaves nothing dangling.
    daemon.api("POST", "/images/busybox/tag", repo="dangle/second", tag="v1")
    daemon.api("POST", f"/images/{second}/tag", repo="dangle/second", tag="v1")
    assert _dangling_ids(daemon) == []
    daemon.api("POST", "/images/busybox/tag", repo="dangle/second", tag="v1")
    assert _dangling_ids(daemon) == [second]

    pruned = daemon.api("POST", "/images/prune")
    assert pruned["ImagesDeleted"] == [{"Deleted": second}]
    assert pruned["SpaceReclaimed"] > 0
    assert daemon.status_of("GET", f"/images/{second}/json")[0] == 404
    assert daemon.api("DELETE", "/images/dangle/moved:v1") == [
        {"Untagged": "dangle/moved:v1"},
        {"Deleted": first},
    ]
    daemon.api("DELETE", "/images/dangle/second:v1")
    assert daemon.api("POST", "/images/prune")["ImagesDeleted"] is None


def test_a_stopped_container_keeps_its_image_when_the_tag_moves(
    daemon: Pouchd, tmp_path: Path
) -> None:
    old = _marker_image(daemon, tmp_path / "a.tar", "dangle/run:v1", "old")
    cid = daemon.create(["cat", "/marker"], Image="dangle/run:v1")
    new = _marker_image(daemon, tmp_path / "b.tar", "dangle/run:v1", "new")

    listed = _listed(daemon, old)
    assert (listed["RepoTags"], listed["Containers"]) == ([], 1)
    assert daemon.api("POST", "/images/prune")["ImagesDeleted"] is None
    status, body = daemon.status_of("DELETE", f"/images/{old}")
    assert status == 409
    assert body["message"] == (
        f"conflict: unable to delete {old[7:19]} (must be forced) - image is being "
        f"used by container {cid[:12]}"
    )
    status, body = daemon.status_of("DELETE", f"/images/{old}", force=1)
    assert status == 409 and "(cannot be forced)" in body["message"]

    daemon.api("POST", f"/containers/{cid}/start")
    assert daemon.wait(cid) == 0
    assert daemon.logs(cid) == b"old"
    assert daemon.inspect(cid)["Image"] == old
    daemon.api("POST", f"/containers/{cid}/start")
    assert daemon.wait(cid) == 0
    assert daemon.logs(cid) == b"oldold"

    daemon.api("DELETE", f"/containers/{cid}")
    assert daemon.api("POST", "/images/prune")["ImagesDeleted"] == [{"Deleted": old}]
    daemon.api("DELETE", "/images/dangle/run:v1")
    assert daemon.status_of("GET", f"/images/{new}/json")[0] == 404


def test_a_container_runs_with_its_own_image_config(
    daemon: Pouchd, tmp_path: Path
) -> None:
    _marker_image(daemon, tmp_path / "a.tar", "dangle/config:v1", "old")
    cid = daemon.create(["sh", "-c", "echo $MARK"], Image="dangle/config:v1")
    _marker_image(daemon, tmp_path / "b.tar", "dangle/config:v1", "new")
    daemon.api("POST", f"/containers/{cid}/start")
    daemon.wait(cid)
    assert daemon.logs(cid) == b"old\n"
    # With no name left at all, the dangling record still gives it its image.
    daemon.api("DELETE", "/images/dangle/config:v1")
    daemon.api("POST", f"/containers/{cid}/start")
    daemon.wait(cid)
    assert daemon.logs(cid) == b"old\nold\n"


def test_forced_rmi_of_the_last_name_keeps_a_used_image(
    daemon: Pouchd, tmp_path: Path
) -> None:
    image_id = _marker_image(daemon, tmp_path / "a.tar", "dangle/forced:v1", "f")
    cid = daemon.create(["cat", "/marker"], Image="dangle/forced:v1")
    status, body = daemon.status_of("DELETE", "/images/dangle/forced:v1")
    assert (status, body["message"]) == (
        409,
        'conflict: unable to remove repository reference "dangle/forced:v1" '
        f"(must force) - container {cid[:12]} is using its referenced image "
        f"{image_id[7:19]}",
    )
    assert daemon.api("DELETE", "/images/dangle/forced:v1", force=1) == [
        {"Untagged": "dangle/forced:v1"}
    ]
    assert _listed(daemon, image_id)["RepoTags"] == []
    assert daemon.api("GET", f"/images/{image_id}/json")["Id"] == image_id

    # By id, forced: every name goes, the image stays while the container does.
    daemon.api("POST", f"/images/{image_id}/tag", repo="dangle/forced", tag="v2")
    daemon.api("POST", f"/images/{image_id}/tag", repo="dangle/forced", tag="v3")
    assert image_id not in _dangling_ids(daemon)
    assert daemon.api("DELETE", f"/images/{image_id}", force=1) == [
        {"Untagged": "dangle/forced:v2"},
        {"Untagged": "dangle/forced:v3"},
    ]
    assert image_id in _dangling_ids(daemon)

    daemon.api("DELETE", f"/containers/{cid}")
    assert daemon.api("DELETE", f"/images/{image_id}") == [{"Deleted": image_id}]


def test_cli_shows_none_as_docker_does(daemon: Pouchd, tmp_path: Path) -> None:
    def pouch(*args: str, stdin: bytes | None = None) -> str:
        done = subprocess.run(
            [str(BIN / "pouch"), "-H", daemon.host, *args],
            capture_output=True, input=stdin, timeout=120,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr.decode()
        return done.stdout.decode()

    _, base = busybox_parts()
    image_id = pouch("import", "-", stdin=base).strip()
    assert image_id.startswith("sha256:")
    short = image_id[7:19]
    rows = [line.split() for line in pouch("images").splitlines()]
    assert ["<none>", "<none>", short] in [row[:3] for row in rows]
    assert pouch("images", "-q", "-f", "dangling=true").split() == [short]

    image_archive(tmp_path / "unnamed.tar", None, [layer_tar({"c": b"1"})])
    loaded = pouch("load", "-i", str(tmp_path / "unnamed.tar"))
    assert loaded.startswith("Loaded image ID: sha256:")
    loaded_id = loaded.split()[-1]
    assert sorted(pouch("images", "-q", "-f", "dangling=true").split()) == sorted(
        [short, loaded_id[7:19]]
    )
    assert pouch("rmi", short, loaded_id) == (
        f"Deleted: {image_id}\nDeleted: {loaded_id}\n"
    )
    assert pouch("images", "-q", "-f", "dangling=true") == ""


def test_removing_by_id_an_image_in_several_repositories_must_be_forced(
    daemon: Pouchd, tmp_path: Path
) -> None:
    image = _marker_image(daemon, tmp_path / "r.tar", "dangle/repo-a:v1", "repos")
    daemon.api("POST", f"/images/{image}/tag", repo="dangle/repo-a", tag="v2")
    # Two tags of one repository: the id removes both, as dockerd does.
    removed = daemon.api("DELETE", f"/images/{image}")
    assert {"Deleted": image} in removed
    image = _marker_image(daemon, tmp_path / "r.tar", "dangle/repo-a:v1", "repos")
    daemon.api("POST", f"/images/{image}/tag", repo="dangle/repo-b", tag="v1")
    status, body = daemon.status_of("DELETE", f"/images/{image}")
    assert status == 409
    assert body["message"] == (
        f"conflict: unable to delete {image[7:19]} (must be forced) - image is "
        "referenced in multiple repositories"
    )
    assert daemon.status_of("GET", "/images/dangle/repo-b:v1/json")[0] == 200
    removed = daemon.api("DELETE", f"/images/{image}", force=1)
    assert {"Untagged": "dangle/repo-a:v1"} in removed
    assert {"Untagged": "dangle/repo-b:v1"} in removed
    assert {"Deleted": image} in removed
