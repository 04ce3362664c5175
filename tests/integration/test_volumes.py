"""Volumes as docker's ``local`` driver keeps them: made on demand or by name,
filled from the image, shared between containers, refused while in use, pruned,
and kept across a daemon restart."""

from __future__ import annotations

import http.client
import json
import os
import re
import shutil
import socket
import subprocess
import urllib.parse
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.daemon import Pouchd

DOCKER = shutil.which("docker") or "/usr/local/bin/docker"
HEX64 = re.compile(r"^[0-9a-f]{64}$")
NAME_RULE = "[a-zA-Z0-9][a-zA-Z0-9_.-]+"


def volume_names(daemon: Pouchd) -> set[str]:
    return {v["Name"] for v in daemon.api("GET", "/volumes")["Volumes"]}


@pytest.fixture
def clean(daemon: Pouchd) -> Iterator[None]:
    """Removes the containers and the volumes a test leaves."""
    before = volume_names(daemon)
    yield
    for c in daemon.api("GET", "/containers/json", all=1):
        daemon.api("DELETE", f"/containers/{c['Id']}", force=1, v=1)
    for name in volume_names(daemon) - before:
        daemon.api("DELETE", f"/volumes/{name}")


def run_to_end(daemon: Pouchd, cmd: list[str], **body: Any) -> tuple[str, bytes]:
    cid = daemon.run(cmd, **body)
    assert daemon.wait(cid) == 0, daemon.logs(cid)
    return cid, daemon.logs(cid)


def binds(*entries: str) -> dict[str, Any]:
    return {"HostConfig": {"Binds": list(entries)}}


def test_named_volume_carries_data_between_containers(
    daemon: Pouchd, clean: None
) -> None:
    created = daemon.api("POST", "/volumes/create", {"Name": "vt-share"})
    assert created["Mountpoint"].endswith("/volumes/vt-share/_data")
    run_to_end(daemon, ["sh", "-c", "echo kept > /data/f"], **binds("vt-share:/data"))
    _, out = run_to_end(daemon, ["cat", "/data/f"], **binds("vt-share:/data:ro"))
    assert out == b"kept\n"
    assert (Path(created["Mountpoint"]) / "f").read_text() == "kept\n"


def test_bind_to_a_new_name_makes_the_volume(daemon: Pouchd, clean: None) -> None:
    cid = daemon.create(["true"], **binds("vt-auto:/data"))
    volume = daemon.api("GET", "/volumes/vt-auto")
    assert volume["Driver"] == "local" and volume["Labels"] == {}
    # A named volume outlives its container, even with ``rm -v``.
    daemon.api("DELETE", f"/containers/{cid}", v=1)
    assert "vt-auto" in volume_names(daemon)


def test_a_new_volume_holds_the_image_files(daemon: Pouchd, clean: None) -> None:
    _, out = run_to_end(
        daemon, ["sh", "-c", "cat /etc/passwd; cat /etc/hostname"],
        Hostname="volhost", **binds("vt-etc:/etc"),
    )  # fmt: skip
    assert out.startswith(b"root:x:0:0:root:/root:/bin/sh\n")
    # The daemon's own files are still bound over the volume.
    assert out.endswith(b"volhost\n")
    data = Path(daemon.api("GET", "/volumes/vt-etc")["Mountpoint"])
    assert {"passwd", "group", "shadow"} <= {p.name for p in data.iterdir()}
    assert (data / "shadow").stat().st_mode & 0o777 == 0o640

    # Filled once: what a container changes stays, nothing is copied again.
    run_to_end(daemon, ["rm", "/etc/group"], **binds("vt-etc:/etc"))
    run_to_end(daemon, ["true"], **binds("vt-etc:/etc"))
    assert not (data / "group").exists()

    run_to_end(daemon, ["true"], **binds("vt-bare:/etc:nocopy"))
    bare = Path(daemon.api("GET", "/volumes/vt-bare")["Mountpoint"])
    assert not (bare / "passwd").exists()


def test_image_volumes_get_anonymous_volumes(
    daemon: Pouchd, clean: None, tmp_path: Path
) -> None:
    from tests.support.images import image_archive, layer_tar

    layer = layer_tar({"seed/greeting": b"from the image\n"})
    archive = tmp_path / "volimage.tar"
    image_archive(archive, "vt-image:1", [layer], {"Volumes": {"/seed": {}}})
    daemon.load(archive)
    try:
        cid = daemon.run(["cat", "/seed/greeting"], Image="vt-image:1")
        assert daemon.wait(cid) == 0
        assert daemon.logs(cid) == b"from the image\n"
        (mount,) = daemon.inspect(cid)["Mounts"]
        assert mount["Destination"] == "/seed" and HEX64.match(mount["Name"])
        daemon.api("DELETE", f"/containers/{cid}", v=1)
        assert mount["Name"] not in volume_names(daemon)
    finally:
        daemon.api("DELETE", "/images/vt-image:1", force=1)


def test_anonymous_volume_goes_with_rm_v_only(daemon: Pouchd, clean: None) -> None:
    kept = daemon.create(["true"], Volumes={"/data": {}})
    (mount,) = daemon.inspect(kept)["Mounts"]
    name = mount["Name"]
    assert HEX64.match(name)
    labels = daemon.api("GET", f"/volumes/{name}")["Labels"]
    assert labels == {"com.docker.volume.anonymous": ""}
    daemon.api("DELETE", f"/containers/{kept}")
    assert name in volume_names(daemon)

    removed = daemon.create(["true"], Volumes={"/data": {}})
    (mount,) = daemon.inspect(removed)["Mounts"]
    daemon.api("DELETE", f"/containers/{removed}", v=1)
    assert mount["Name"] not in volume_names(daemon)

    # A bind covering a Volumes key wins over an anonymous volume.
    covered = daemon.create(["true"], Volumes={"/data": {}}, **binds("vt-c:/data"))
    assert [m["Name"] for m in daemon.inspect(covered)["Mounts"]] == ["vt-c"]


def test_auto_remove_takes_its_anonymous_volumes(daemon: Pouchd, clean: None) -> None:
    cid = daemon.create(
        ["sleep", "1"], Volumes={"/data": {}}, HostConfig={"AutoRemove": True}
    )
    (mount,) = daemon.inspect(cid)["Mounts"]
    daemon.api("POST", f"/containers/{cid}/start")
    daemon.api("POST", f"/containers/{cid}/wait", condition="removed")
    assert mount["Name"] not in volume_names(daemon)


def test_a_volume_in_use_is_not_removed(daemon: Pouchd, clean: None) -> None:
    cid = daemon.create(["true"], **binds("vt-busy:/data"))
    for force in (0, 1):
        status, body = daemon.status_of("DELETE", "/volumes/vt-busy", force=force)
        assert (status, body["message"]) == (
            409, f"remove vt-busy: volume is in use - [{cid}]"
        )  # fmt: skip
    daemon.api("DELETE", f"/containers/{cid}")
    assert daemon.status_of("DELETE", "/volumes/vt-busy")[0] == 204
    status, body = daemon.status_of("DELETE", "/volumes/vt-busy")
    assert (status, body["message"]) == (404, "get vt-busy: no such volume")
    assert daemon.status_of("DELETE", "/volumes/vt-busy", force=1)[0] == 204


def test_prune_takes_unused_anonymous_volumes(daemon: Pouchd, clean: None) -> None:
    labels = {"Labels": {"vt": "prune"}}
    daemon.api("POST", "/volumes/create", {"Name": "vt-named", **labels})
    unused = daemon.create(["true"], Volumes={"/data": {}})
    unused_volume = daemon.inspect(unused)["Mounts"][0]["Name"]
    daemon.api("DELETE", f"/containers/{unused}")
    used = daemon.create(["true"], Volumes={"/data": {}})
    used_volume = daemon.inspect(used)["Mounts"][0]["Name"]

    report = daemon.api("POST", "/volumes/prune")
    assert unused_volume in report["VolumesDeleted"]
    assert "vt-named" not in report["VolumesDeleted"]
    assert {"vt-named", used_volume} <= volume_names(daemon)

    every = json.dumps({"all": ["true"], "label": ["vt=prune"]})
    report = daemon.api("POST", "/volumes/prune", filters=every)
    assert report["VolumesDeleted"] == ["vt-named"]
    assert report["SpaceReclaimed"] == 0

    # Clients older than API 1.42 prune named volumes too, as dockerd lets them.
    daemon.api("POST", "/volumes/create", {"Name": "vt-old", **labels})
    only = urllib.parse.quote(json.dumps({"label": ["vt=prune"]}))
    status, report = raw_post(daemon, f"/v1.41/volumes/prune?filters={only}")
    assert (status, report["VolumesDeleted"]) == (200, ["vt-old"])


def raw_post(daemon: Pouchd, path: str) -> tuple[int, Any]:
    """A request as an old client sends it, with its own version prefix."""
    conn = http.client.HTTPConnection("localhost", timeout=60)
    sock = socket.socket(socket.AF_UNIX)
    sock.connect(str(daemon.socket))
    conn.sock = sock
    conn.request("POST", path)
    response = conn.getresponse()
    body = json.loads(response.read())
    conn.close()
    return response.status, body


def test_bad_names_are_400_and_leave_nothing(daemon: Pouchd, clean: None) -> None:
    status, body = daemon.status_of("POST", "/volumes/create", {"Name": "b@d"})
    assert status == 400 and NAME_RULE in body["message"]
    status, body = daemon.status_of(
        "POST", "/volumes/create", {"Name": "vt-opts", "DriverOpts": {"o": "x"}}
    )
    assert status == 400 and "not supported" in body["message"]

    containers = len(daemon.api("GET", "/containers/json", all=1))
    volumes = volume_names(daemon)
    bad_bodies = [
        {"Volumes": {"/anon": {}}, **binds("vt-good:/a", "b@d:/b")},
        {"Volumes": {"/anon": {}},
         "HostConfig": {"Binds": ["vt-good:/a"],
                        "Mounts": [{"Type": "volume", "Source": "x", "Target": "/x"}]}},
        {"Volumes": {"relative": {}}, **binds("vt-good:/a")},
        binds("vt-good:/a", "vt-other:/a"),
    ]  # fmt: skip
    for body in bad_bodies:
        status, answer = daemon.status_of(
            "POST", "/containers/create", {"Image": "busybox", **body}
        )
        assert status == 400, answer
    assert len(daemon.api("GET", "/containers/json", all=1)) == containers
    assert volume_names(daemon) == volumes


def test_list_filters(daemon: Pouchd, clean: None) -> None:
    daemon.api("POST", "/volumes/create", {"Name": "vt-f1", "Labels": {"vt": "a"}})
    daemon.api("POST", "/volumes/create", {"Name": "vt-f2", "Labels": {"vt": "b"}})
    daemon.create(["true"], **binds("vt-f1:/data"))

    def names(**filters: list[str]) -> list[str]:
        found = daemon.api("GET", "/volumes", filters=json.dumps(filters))
        assert found["Warnings"] == []
        return sorted(v["Name"] for v in found["Volumes"])

    assert names(name=["vt-f"]) == ["vt-f1", "vt-f2"]
    assert names(label=["vt=a"]) == ["vt-f1"]
    assert names(label=["vt"], name=["vt-f"]) == ["vt-f1", "vt-f2"]
    assert names(dangling=["true"], name=["vt-f"]) == ["vt-f2"]
    assert names(dangling=["false"], name=["vt-f"]) == ["vt-f1"]
    status, body = daemon.status_of("GET", "/volumes", filters='{"colour": ["x"]}')
    assert status == 400 and "colour" in body["message"]


def test_inspect_mounts_and_disk_usage(
    daemon: Pouchd, clean: None, tmp_path: Path
) -> None:
    mounts = [{"Type": "volume", "Target": "/anon"}]
    cid = daemon.create(
        ["true"],
        HostConfig={"Binds": ["vt-shape:/data:ro", f"{tmp_path}:/host"],
                    "Mounts": mounts},
    )  # fmt: skip
    volume = daemon.api("GET", "/volumes/vt-shape")
    assert set(volume) == {
        "CreatedAt", "Driver", "Labels", "Mountpoint", "Name", "Options", "Scope"
    }  # fmt: skip
    shown = daemon.inspect(cid)["Mounts"]
    anonymous = shown[2]["Name"]
    assert shown == [
        {"Type": "volume", "Name": "vt-shape", "Source": volume["Mountpoint"],
         "Destination": "/data", "Driver": "local", "Mode": "ro", "RW": False,
         "Propagation": ""},
        {"Type": "bind", "Source": str(tmp_path), "Destination": "/host",
         "Mode": "", "RW": True, "Propagation": "rprivate"},
        {"Type": "volume", "Name": anonymous,
         "Source": daemon.api("GET", f"/volumes/{anonymous}")["Mountpoint"],
         "Destination": "/anon", "Driver": "local", "Mode": "", "RW": True,
         "Propagation": ""},
    ]  # fmt: skip
    listed = daemon.api("GET", "/containers/json", all=1)
    assert next(c for c in listed if c["Id"] == cid)["Mounts"] == shown

    usage = daemon.api("GET", "/system/df")["Volumes"]
    entry = next(v for v in usage if v["Name"] == "vt-shape")
    assert entry["UsageData"] == {"Size": 0, "RefCount": 1}


def test_volumes_survive_a_restart(fresh_daemon: Callable[..., Pouchd]) -> None:
    d = fresh_daemon().start()
    d.load_busybox()
    created = d.api(
        "POST", "/volumes/create", {"Name": "vt-kept", "Labels": {"a": "b"}}
    )
    cid = d.run(["sh", "-c", "echo durable > /data/f"], **binds("vt-kept:/data"))
    assert d.wait(cid) == 0
    d.api("DELETE", f"/containers/{cid}")
    d.stop()
    d.start()
    assert d.api("GET", "/volumes/vt-kept") == created
    cid = d.run(["cat", "/data/f"], **binds("vt-kept:/data"))
    assert d.wait(cid) == 0 and d.logs(cid) == b"durable\n"
    status, _ = d.status_of("DELETE", "/volumes/vt-kept")
    assert status == 409
    d.api("DELETE", f"/containers/{cid}")
    d.api("DELETE", "/volumes/vt-kept")


@pytest.mark.skipif(not Path(DOCKER).exists(), reason="the docker CLI is not installed")
def test_docker_cli_volumes(daemon: Pouchd, clean: None, tmp_path: Path) -> None:
    env = {**os.environ, "DOCKER_HOST": daemon.host, "DOCKER_CONFIG": str(tmp_path)}

    def docker(*args: str) -> str:
        done = subprocess.run(
            [DOCKER, *args], capture_output=True, text=True, env=env, timeout=60
        )
        assert done.returncode == 0, f"docker {' '.join(args)}: {done.stderr}"
        return done.stdout

    assert docker("volume", "create", "vt-cli") == "vt-cli\n"
    docker(
        "run", "--rm", "-v", "vt-cli:/data", "busybox", "sh", "-c", "echo hi > /data/f"
    )
    out = docker("run", "--rm", "-v", "vt-cli:/data", "busybox", "cat", "/data/f")
    assert out == "hi\n"
    lines = docker("volume", "ls", "--filter", "name=vt-cli").splitlines()
    assert lines == ["DRIVER    VOLUME NAME", "local     vt-cli"]
    inspected = json.loads(docker("volume", "inspect", "vt-cli"))
    assert inspected[0]["Name"] == "vt-cli"
    assert "Local Volumes" in docker("system", "df")
    assert docker("volume", "rm", "vt-cli") == "vt-cli\n"
    assert "vt-cli" not in volume_names(daemon)


def test_docker_sdk_volumes(daemon: Pouchd, clean: None) -> None:
    docker = pytest.importorskip("docker")
    sdk = docker.DockerClient(base_url=daemon.host, version="auto", timeout=60)
    try:
        volume = sdk.volumes.create(name="vt-sdk", labels={"via": "sdk"})
        assert volume.attrs["Labels"] == {"via": "sdk"}
        out = sdk.containers.run(
            "busybox", ["sh", "-c", "echo sdk > /data/f; cat /data/f"],
            volumes={"vt-sdk": {"bind": "/data", "mode": "rw"}}, remove=True,
        )  # fmt: skip
        assert out == b"sdk\n"
        assert [v.name for v in sdk.volumes.list(filters={"label": "via=sdk"})] == [
            "vt-sdk"
        ]
        anonymous = sdk.volumes.create()
        assert HEX64.match(anonymous.name)
        anonymous.remove()
        volume.remove()
        with pytest.raises(docker.errors.NotFound):
            sdk.volumes.get("vt-sdk")
    finally:
        sdk.close()
