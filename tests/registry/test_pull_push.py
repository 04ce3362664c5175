"""Push to and pull from a real registry (distribution) on 127.0.0.1, then run."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from pouch.client.errors import APIError
from pouch.ctrd.imagespec import chain_ids
from tests.support.daemon import Pouchd
from tests.support.images import image_archive, unique_layers
from tests.support.registry import Registry

from .conftest import errors, load, pull, push, run_output, statuses


def _tag(daemon: Pouchd, src: str, repo: str, tag: str) -> None:
    daemon.api("POST", f"/images/{src}/tag", repo=repo, tag=tag)


def _aux(msgs: list[dict[str, Any]]) -> dict[str, Any]:
    return next(m["aux"] for m in msgs if "aux" in m)


def test_push_busybox_then_pull_and_run_on_another_daemon(
    daemon: Pouchd, registry: Registry, fresh_daemon: Any
) -> None:
    name = f"{registry.host}/test/busybox:v1"
    _tag(daemon, "busybox", f"{registry.host}/test/busybox", "v1")
    msgs = push(daemon, name)
    assert not errors(msgs), msgs
    assert statuses(msgs)[0] == (
        f"The push refers to repository [{registry.host}/test/busybox]"
    )
    assert "Pushed" in statuses(msgs)
    pushed = _aux(msgs)["Digest"]

    other = fresh_daemon().start()
    msgs = pull(other, name)
    assert not errors(msgs), msgs
    got = statuses(msgs)
    assert got[0] == "Pulling from test/busybox"
    assert {"Pulling fs layer", "Downloading", "Verifying Checksum",
            "Download complete", "Extracting", "Pull complete"} <= set(got)  # fmt: skip
    assert got[-2:] == [
        f"Digest: {pushed}",
        f"Status: Downloaded newer image for {name}",
    ]
    downloading = [m for m in msgs if m.get("status") == "Downloading"]
    assert all(m["progressDetail"]["total"] > 0 and m["id"] for m in downloading)

    code, out = run_output(other, name, ["sh", "-c", "echo pulled-and-ran"])
    assert (code, out) == (0, b"pulled-and-ran\n")

    again = statuses(pull(other, name))
    assert again[-1] == f"Status: Image is up to date for {name}"
    daemon.api("DELETE", f"/images/{name}")


def test_push_then_pull_round_trips_digests(
    daemon: Pouchd, registry: Registry, tmp_path: Path
) -> None:
    name = f"{registry.host}/test/roundtrip:v2"
    config = image_archive(tmp_path / "img.tar", name, unique_layers(3))
    load(daemon, tmp_path / "img.tar")
    before = daemon.api("GET", f"/images/{name}/json")
    pushed = _aux(push(daemon, name))
    assert pushed["Tag"] == "v2"

    daemon.api("DELETE", f"/images/{name}")
    msgs = pull(daemon, name)
    assert not errors(msgs), msgs
    assert statuses(msgs).count("Pull complete") == 3  # busybox's layer is here
    assert "Already exists" in statuses(msgs)
    after = daemon.api("GET", f"/images/{name}/json")
    assert after["Id"] == before["Id"]
    assert after["RootFS"]["Layers"] == config["rootfs"]["diff_ids"]
    assert f"{registry.host}/test/roundtrip@{pushed['Digest']}" in after["RepoDigests"]
    code, out = run_output(daemon, name, ["sh", "-c", "ls /data"])
    assert (code, out) == (0, b"file0\nfile1\nfile2\n")
    daemon.api("DELETE", f"/images/{name}")

    by_digest = f"{registry.host}/test/roundtrip@{pushed['Digest']}"
    msgs = pull(daemon, by_digest)
    assert statuses(msgs)[0] == "Pulling from test/roundtrip"
    assert daemon.api("GET", f"/images/{by_digest}/json")["Id"] == before["Id"]
    daemon.api("DELETE", f"/images/{by_digest}")


def test_pull_of_a_missing_tag_is_404(daemon: Pouchd, registry: Registry) -> None:
    with pytest.raises(APIError) as info:
        pull(daemon, f"{registry.host}/test/nothing:here")
    assert info.value.status == 404
    assert f"{registry.host}/test/nothing:here not found" in info.value.message


def test_bad_references_are_400(daemon: Pouchd) -> None:
    for bad, text in [
        ("UPPER/case", "must be lowercase"),
        ("busybox:bad tag", "bad tag"),
        ("a" * 64, "64-byte hexadecimal"),
    ]:
        with pytest.raises(APIError) as info:
            pull(daemon, bad)
        assert info.value.status == 400, bad
        assert text in info.value.message


def test_push_of_a_missing_image_is_404(daemon: Pouchd, registry: Registry) -> None:
    with pytest.raises(APIError) as info:
        push(daemon, f"{registry.host}/test/nope:v1")
    assert info.value.status == 404


def test_bad_x_registry_auth_is_400(daemon: Pouchd, registry: Registry) -> None:
    with pytest.raises(APIError) as info:
        pull(daemon, f"{registry.host}/x:y", **{"X-Registry-Auth": "%%%"})
    assert info.value.status == 400
    assert "X-Registry-Auth" in info.value.message


def _snapshots(daemon: Pouchd) -> str:
    sock = daemon.home / "containerd" / "containerd.sock"
    return subprocess.run(
        ["ctr", "-a", str(sock), "-n", "default", "snapshots", "ls"],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip


def test_rmi_collects_unreferenced_blobs(
    daemon: Pouchd, registry: Registry, tmp_path: Path
) -> None:
    name = f"{registry.host}/test/gc:v1"
    layer = unique_layers(1)[0]
    image_archive(tmp_path / "img.tar", name, [layer])
    load(daemon, tmp_path / "img.tar")
    blobs = (
        daemon.home / "containerd/root/io.containerd.content.v1.content/blobs/sha256"
    )
    from tests.support.images import digest

    hex_ = digest(layer).split(":")[1]
    chain = daemon.api("GET", f"/images/{name}/json")["RootFS"]["Layers"]
    top = chain_ids(chain)[-1]
    assert (blobs / hex_).exists()
    assert top in _snapshots(daemon)
    daemon.api("DELETE", f"/images/{name}")
    assert not (blobs / hex_).exists()
    assert top not in _snapshots(daemon)
    assert chain_ids(chain)[0] in _snapshots(daemon)  # busybox's, still used
    assert json.dumps(daemon.api("GET", "/images/json")).count("test/gc") == 0


def test_pouch_run_pulls_an_image_that_is_not_there(
    daemon: Pouchd, registry: Registry
) -> None:
    """As docker run does: the missing image is named, pulled (its status lines on
    stderr) and run; stdout holds only the container's output."""
    import os

    from tests.support.daemon import BIN

    name = f"{registry.host}/test/run-pulls:v1"
    _tag(daemon, "busybox", f"{registry.host}/test/run-pulls", "v1")
    assert not errors(push(daemon, name))
    daemon.api("DELETE", f"/images/{name}")
    env = {**os.environ, "POUCH_HOST": daemon.host}
    done = subprocess.run(
        [str(BIN / "pouch"), "run", "--rm", name, "echo", "pulled by run"],
        capture_output=True, text=True, env=env, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout == "pulled by run\n"
    assert done.stderr.startswith(f"Unable to find image '{name}' locally\n")
    assert f"Status: Downloaded newer image for {name}" in done.stderr
    daemon.api("DELETE", f"/images/{name}")

    gone = f"{registry.host}/test/never-pushed:v1"
    failed = subprocess.run(
        [str(BIN / "pouch"), "run", "--rm", gone, "true"],
        capture_output=True, text=True, env=env, timeout=120,
    )  # fmt: skip
    assert failed.returncode == 125
    assert failed.stderr.splitlines()[0] == f"Unable to find image '{gone}' locally"
    assert "Error response from daemon" in failed.stderr
