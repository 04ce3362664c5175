from pathlib import Path

import pytest

from pouch.hookplugins import Hook
from pouch.oci import SpecInput, build_spec, hostopts
from pouch.oci.spec import Mount, SpecError, capabilities
from pouch.oci.users import UnknownUser, resolve_user
from pouch.types import CreateRequest, HostSettings

IMAGE = {"Cmd": ["sh"], "Env": ["PATH=/bin", "A=image"], "WorkingDir": "/w"}


def spec_for(body: dict, **kw) -> dict:  # type: ignore[no-untyped-def,type-arg]
    request = CreateRequest.model_validate({"Image": "busybox", **body})
    inp = SpecInput(
        container_id="c1",
        config=request,
        host_config=request.HostConfig,
        image_config=IMAGE,
        hostname="host1",
        **kw,
    )
    return build_spec(inp)


def test_command_env_and_cwd_follow_docker_rules() -> None:
    spec = spec_for({"Env": ["A=mine", "B=2"]})
    process = spec["process"]
    assert process["args"] == ["sh"]
    assert process["env"] == ["PATH=/bin", "A=mine", "B=2", "HOSTNAME=host1"]
    assert process["cwd"] == "/w"
    assert spec_for({"Cmd": ["echo", "x"]})["process"]["args"] == ["echo", "x"]
    # An entrypoint given in the request drops the image's Cmd.
    assert spec_for({"Entrypoint": ["/bin/env"]})["process"]["args"] == ["/bin/env"]


def test_resources_from_host_config() -> None:
    host = {"Memory": 64 << 20, "CpuShares": 512, "CpuQuota": 50000,
            "CpuPeriod": 100000, "PidsLimit": 20}  # fmt: skip
    res = spec_for({"HostConfig": host})["linux"]["resources"]
    assert res["memory"] == {"limit": 64 << 20}
    assert res["cpu"] == {"shares": 512, "quota": 50000, "period": 100000}
    assert res["pids"] == {"limit": 20}


def test_hooks_labels_readonly_and_namespaces() -> None:
    hooks = [Hook("/bin/a", ["a"]), Hook("/bin/b", ["b", "1"])]
    spec = spec_for(
        {"Labels": {"k": "v"}, "HostConfig": {"ReadonlyRootfs": True}},
        prestart_hooks=hooks,
    )
    assert spec["hooks"]["prestart"] == [
        {"path": "/bin/a", "args": ["a"]},
        {"path": "/bin/b", "args": ["b", "1"]},
    ]
    assert spec["annotations"] == {"k": "v"}
    assert spec["root"] == {"path": "rootfs", "readonly": True}
    kinds = [n["type"] for n in spec["linux"]["namespaces"]]
    assert "network" in kinds
    host_kinds = [
        n["type"] for n in spec_for({}, host_network=True)["linux"]["namespaces"]
    ]  # noqa: E501
    assert "network" not in host_kinds


def test_privileged_drops_masks_and_allows_all() -> None:
    spec = spec_for({"HostConfig": {"Privileged": True}})
    assert "maskedPaths" not in spec["linux"]
    assert "CAP_SYS_ADMIN" in spec["process"]["capabilities"]["bounding"]
    assert spec["linux"]["resources"]["devices"] == [{"allow": True, "access": "rwm"}]
    plain = spec_for({})
    assert "/proc/kcore" in plain["linux"]["maskedPaths"]
    assert "CAP_SYS_ADMIN" not in plain["process"]["capabilities"]["bounding"]


def test_capability_add_and_drop() -> None:
    caps = capabilities(HostSettings(CapAdd=["NET_ADMIN"], CapDrop=["chown"]))
    assert "CAP_NET_ADMIN" in caps and "CAP_CHOWN" not in caps
    with pytest.raises(SpecError, match="unknown capability"):
        capabilities(HostSettings(CapAdd=["FLY"]))


def test_mounts_are_binds_sorted_by_depth_over_the_defaults() -> None:
    mounts = [
        Mount("/data", "/vol/data", read_only=True),
        Mount("/etc", "/vol/etc", propagation="rshared", recursive=False),
        Mount("/dev/shm", type="tmpfs", options=("size=1024",)),
    ]
    files = {"/etc/hosts": Path("/run/hosts")}
    spec = spec_for({}, mounts=mounts, files=files)
    own = [m for m in spec["mounts"] if m["destination"] in ("/data", "/etc")]
    assert own == [
        {"destination": "/data", "type": "bind", "source": "/vol/data",
         "options": ["rbind", "rprivate", "ro"]},
        {"destination": "/etc", "type": "bind", "source": "/vol/etc",
         "options": ["bind", "rshared", "rw"]},
    ]  # fmt: skip
    order = [m["destination"] for m in spec["mounts"]]
    # A volume at /etc is mounted before the file bound over it.
    assert order.index("/etc") < order.index("/etc/hosts")
    # The request's /dev/shm replaces the default one.
    shm = [m for m in spec["mounts"] if m["destination"] == "/dev/shm"]
    assert len(shm) == 1 and shm[0]["type"] == "tmpfs"
    assert "size=1024" in shm[0]["options"]


def test_group_add_takes_names_from_the_image_and_numbers(tmp_path: Path) -> None:
    etc = tmp_path / "etc"
    etc.mkdir()
    (etc / "group").write_text("root:x:0:\nstaff:x:50:web\n")
    body = {"HostConfig": {"GroupAdd": ["staff", "123", "50"]}}
    spec = spec_for(body, rootfs_dirs=[tmp_path])
    assert spec["process"]["user"]["additionalGids"] == [50, 123]
    # At create time there is no rootfs: names are only checked for form.
    hostopts.check(HostSettings.model_validate({"GroupAdd": ["staff"]}))
    with pytest.raises(SpecError, match="Unable to find group video: no matching"):
        spec_for({"HostConfig": {"GroupAdd": ["video"]}}, rootfs_dirs=[tmp_path])
    with pytest.raises(hostopts.HostOptionError, match="invalid group 'a:b'"):
        hostopts.check(HostSettings.model_validate({"GroupAdd": ["a:b"]}))


def test_users_resolve_from_the_rootfs(tmp_path: Path) -> None:
    etc = tmp_path / "etc"
    etc.mkdir()
    (etc / "passwd").write_text("root:x:0:0::/root:/bin/sh\nweb:x:33:44::/:/bin/sh\n")
    (etc / "group").write_text("root:x:0:\nstaff:x:50:web\n")
    assert resolve_user("web", [tmp_path]) == (33, 44, [50])
    assert resolve_user("1000:50", [tmp_path]) == (1000, 50, [])
    assert resolve_user("", [tmp_path]) == (0, 0, [])
    with pytest.raises(UnknownUser, match="unable to find user nobody2"):
        resolve_user("nobody2", [tmp_path])
