"""The create request's mounts: docker's parsing rules, checked before anything."""

from pathlib import Path

import pytest

from pouch.mgr.mounts import MountError, MountRequest, check_volume_name, plan
from pouch.types import CreateRequest


def planned(body: dict, image_volumes: tuple[str, ...] = ()) -> list[MountRequest]:  # type: ignore[type-arg]
    request = CreateRequest.model_validate({"Image": "busybox", **body})
    return plan(request, image_volumes)


def test_binds_are_host_paths_or_volume_names() -> None:
    host, volume = planned({"HostConfig": {"Binds": ["/a:/b:ro", "data:/d/"]}})
    assert host == MountRequest(
        "bind", "/b", "/a", read_only=True, mode="ro", propagation="rprivate",
        make_source=True,
    )  # fmt: skip
    assert volume == MountRequest("volume", "/d", "data", mode="z")
    (nocopy,) = planned({"HostConfig": {"Binds": ["data:/d:ro,nocopy"]}})
    assert nocopy.read_only and not nocopy.copy


@pytest.mark.parametrize(
    "bind, message",
    [
        ("vol", "expected SOURCE:DESTINATION"),
        ("v@l:/x", "must match [a-zA-Z0-9][a-zA-Z0-9_.-]+"),
        ("./rel:/x", "must match"),
        ("x:/x", "must match"),
        ("/a:b", "must be an absolute path"),
        ("/a:/", "nothing can be mounted over the container's /"),
        ("/a:/b:ro,rw", "invalid mode 'ro,rw'"),
        ("/a:/b:nocopy", "nocopy applies to volumes"),
        ("vol:/b:rshared", "propagation mode applies to host paths only"),
        ("/a\0:/b", "NUL"),
    ],
)
def test_bad_binds_name_the_rule(bind: str, message: str) -> None:
    with pytest.raises(MountError, match=None) as caught:
        planned({"HostConfig": {"Binds": [bind]}})
    assert message in str(caught.value)


def test_mounts_as_the_docker_cli_sends_them(tmp_path: Path) -> None:
    mounts = [
        {"Type": "volume", "Source": "data", "Target": "/data", "ReadOnly": True,
         "VolumeOptions": {"NoCopy": True, "Labels": {"k": "v"}}},
        {"Type": "bind", "Source": str(tmp_path), "Target": "/host",
         "BindOptions": {"Propagation": "rslave", "NonRecursive": True}},
        {"Type": "volume", "Target": "/scratch"},
        {"Type": "tmpfs", "Target": "/run/t",
         "TmpfsOptions": {"SizeBytes": 4096, "Mode": 0o1777}},
    ]  # fmt: skip
    volume, bind, anonymous, tmpfs = planned({"HostConfig": {"Mounts": mounts}})
    assert (volume.source, volume.read_only, volume.copy) == ("data", True, False)
    assert volume.labels == {"k": "v"}
    assert (bind.propagation, bind.non_recursive) == ("rslave", True)
    assert anonymous == MountRequest("volume", "/scratch")
    assert tmpfs.options == ("size=4096", "mode=1777")


@pytest.mark.parametrize(
    "mount, message",
    [
        ({"Type": "nfs", "Target": "/x"}, "unknown type 'nfs'"),
        ({"Type": "bind", "Source": "rel", "Target": "/x"}, "absolute host path"),
        ({"Type": "bind", "Source": "/no/such/dir", "Target": "/x"},
         "bind source path does not exist: /no/such/dir"),
        ({"Type": "volume", "Source": "v", "Target": "/x"}, "must match"),
        ({"Type": "volume", "Target": "/x", "BindOptions": {}},
         "BindOptions does not apply to a volume mount"),
        ({"Type": "volume", "Target": "/x",
          "VolumeOptions": {"DriverConfig": {"Name": "nfs"}}}, "only local"),
        ({"Type": "volume", "Target": ""}, "must be an absolute path"),
    ],
)  # fmt: skip
def test_bad_mounts_name_the_entry(mount: dict, message: str) -> None:  # type: ignore[type-arg]
    with pytest.raises(MountError) as caught:
        planned({"HostConfig": {"Mounts": [mount]}})
    assert "HostConfig.Mounts[0]" in str(caught.value)
    assert message in str(caught.value)


def test_anonymous_volumes_fill_what_no_bind_covers() -> None:
    found = planned(
        {"Volumes": {"/data": {}, "/logs/": {}}, "HostConfig": {"Binds": ["v1:/data"]}},
        image_volumes=("/logs", "/cache"),
    )
    assert [(m.destination, m.source) for m in found] == [
        ("/data", "v1"), ("/logs", ""), ("/cache", ""),
    ]  # fmt: skip
    with pytest.raises(MountError, match="duplicate mount point /x"):
        planned({"HostConfig": {"Binds": ["a1:/x", "/h:/x/"]}})
    with pytest.raises(MountError, match="invalid Volumes entry 'rel'"):
        planned({"Volumes": {"rel": {}}})


def test_volume_names() -> None:
    assert check_volume_name("a.b_c-1") == "a.b_c-1"
    for bad in ("a", "-ab", ".ab", "a/b", "a b", ""):
        with pytest.raises(MountError):
            check_volume_name(bad)
