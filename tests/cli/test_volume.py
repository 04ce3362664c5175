"""``volume`` commands and the ``-v``/``--mount`` flags against the fake daemon."""

import json
import os

from .conftest import Pouch
from .fakedaemon import Answer, FakeDaemon

CID = "c0ffee" + "0" * 58
LONG = "e" * 64


def _volume(name: str) -> dict[str, object]:
    return {"Name": name, "Driver": "local", "Mountpoint": f"/v/{name}/_data"}


def test_ls_is_docker_table_sorted_by_name(pouch: Pouch, fake: FakeDaemon) -> None:
    found = {"Volumes": [_volume(LONG), _volume("data")], "Warnings": []}
    fake.on("GET", "/volumes", Answer(body=found))
    result = pouch("volume", "ls", "-f", "dangling=true")
    assert result.exit_code == 0, result.stderr
    assert result.stdout == f"DRIVER    VOLUME NAME\nlocal     data\nlocal     {LONG}\n"
    query = fake.find("GET", "/volumes").query
    assert json.loads(query["filters"]) == {"dangling": ["true"]}


def test_create_rm_and_prune(pouch: Pouch, fake: FakeDaemon) -> None:
    fake.on("POST", "/volumes/create", Answer(201, _volume("data")))
    fake.on("DELETE", "/volumes/data", Answer(204))
    report = {"VolumesDeleted": ["a1", "b2"], "SpaceReclaimed": 2048}
    fake.on("POST", "/volumes/prune", Answer(body=report))

    assert pouch("volume", "create", "--label", "k=v", "data").stdout == "data\n"
    body = fake.find("POST", "/volumes/create").json()
    assert body == {"Name": "data", "Driver": "local", "Labels": {"k": "v"},
                    "DriverOpts": {}}  # fmt: skip
    assert pouch("volume", "rm", "data").stdout == "data\n"
    result = pouch("volume", "prune", "-a")
    assert result.stdout == (
        "Deleted Volumes:\na1\nb2\n\nTotal reclaimed space: 2.05kB\n"
    )
    query = fake.find("POST", "/volumes/prune").query
    assert json.loads(query["filters"]) == {"all": ["true"]}


def test_volume_and_mount_flags(pouch: Pouch, fake: FakeDaemon) -> None:
    fake.on("POST", "/containers/create", Answer(201, {"Id": CID, "Warnings": []}))
    result = pouch(
        "create", "-v", "data:/data:ro", "-v", "./here:/here",
        "--mount", "type=volume,src=cache,dst=/cache,readonly,volume-nocopy",
        "--mount", "type=tmpfs,target=/t,tmpfs-size=1m,tmpfs-mode=1777",
        "busybox",
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    host = fake.find("POST", "/containers/create").json()["HostConfig"]
    assert host["Binds"] == ["data:/data:ro", f"{os.getcwd()}/here:/here"]
    assert host["Mounts"] == [
        {"Type": "volume", "Source": "cache", "Target": "/cache", "ReadOnly": True,
         "VolumeOptions": {"NoCopy": True}},
        {"Type": "tmpfs", "Target": "/t",
         "TmpfsOptions": {"SizeBytes": 1 << 20, "Mode": 0o1777}},
    ]  # fmt: skip
    bad = pouch("create", "--mount", "type=volume,colour=red", "busybox")
    assert bad.exit_code != 0 and "unknown field 'colour'" in bad.stderr
