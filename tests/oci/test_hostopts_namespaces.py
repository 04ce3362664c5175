"""Sysctls, the runtime's name and the PID, IPC and UTS modes in the spec, and
their create-time rules."""

from typing import Any

import pytest

from pouch.oci import SpecInput, build_spec, hostopts
from pouch.oci.spec import SpecError
from pouch.types import CreateRequest, HostSettings


def spec_for(host: dict[str, Any], **kw: Any) -> dict[str, Any]:
    request = CreateRequest.model_validate({"Image": "busybox", "HostConfig": host})
    inp = SpecInput(
        container_id="c1",
        config=request,
        host_config=request.HostConfig,
        image_config={"Cmd": ["sh"]},
        hostname="host1",
        **kw,
    )
    return build_spec(inp)


def namespaces(spec: dict[str, Any]) -> dict[str, str]:
    return {n["type"]: n.get("path", "") for n in spec["linux"]["namespaces"]}


def shm_mount(spec: dict[str, Any]) -> dict[str, Any] | None:
    return next((m for m in spec["mounts"] if m["destination"] == "/dev/shm"), None)


def test_host_modes_drop_their_namespaces() -> None:
    spec = spec_for({"PidMode": "host", "IpcMode": "host", "UTSMode": "host"})
    assert set(namespaces(spec)) == {"mount", "network"}
    assert "hostname" not in spec
    assert shm_mount(spec) == {
        "destination": "/dev/shm", "type": "bind", "source": "/dev/shm",
        "options": ["rbind", "rprivate", "rw"],
    }  # fmt: skip


def test_container_modes_join_the_others_namespaces() -> None:
    spec = spec_for(
        {"PidMode": "container:a", "IpcMode": "container:a"},
        joined_pids={"pid": 41, "ipc": 41},
        shm_source="/var/lib/pouch/containers/a/shm",
    )
    found = namespaces(spec)
    assert found["pid"] == "/proc/41/ns/pid"
    assert found["ipc"] == "/proc/41/ns/ipc"
    assert found["uts"] == "" and spec["hostname"] == "host1"
    mount = shm_mount(spec)
    assert mount is not None
    assert mount["source"] == "/var/lib/pouch/containers/a/shm"


def test_ipc_none_has_no_dev_shm_and_shm_size_keeps_to_tmpfs() -> None:
    assert shm_mount(spec_for({"IpcMode": "none"})) is None
    mount = shm_mount(spec_for({"IpcMode": "host", "ShmSize": 1 << 20}))
    assert mount is not None
    assert not any(o.startswith("size=") for o in mount["options"])
    mount = shm_mount(spec_for({"ShmSize": 1 << 20}))
    assert mount is not None and f"size={1 << 20}" in mount["options"]


def test_sysctls_go_into_the_spec() -> None:
    sysctls = {"net.ipv4.ip_forward": "1", "kernel.msgmax": "9000"}
    assert spec_for({"Sysctls": sysctls})["linux"]["sysctl"] == sysctls
    assert "sysctl" not in spec_for({})["linux"]


@pytest.mark.parametrize(
    ("host", "message"),
    [
        ({"Sysctls": {"kernel.hostname": "x"}}, "'kernel.hostname' is not allowed"),
        ({"Sysctls": {"kernel.msgmax": ""}}, "give one value"),
        (
            {"Sysctls": {"net.ipv4.ip_forward": "1"}, "NetworkMode": "host"},
            "NetworkMode host",
        ),
        ({"Sysctls": {"fs.mqueue.msg_max": "1"}, "IpcMode": "host"}, "IpcMode host"),
        ({"Runtime": "kata"}, "unknown or invalid runtime name: kata"),
        ({"PidMode": "private"}, "invalid PID mode: private"),
        ({"IpcMode": "container:"}, "invalid IPC mode: container:"),
        ({"UTSMode": "container:x"}, "invalid UTS mode: container:x"),
        ({"CapAdd": ["NOT_A_CAP"]}, "unknown capability: 'NOT_A_CAP'"),
        ({"CpuShares": 262145}, "at most 262144"),
        ({"CpusetCpus": "9999"}, "Requested CPUs are not available"),
        ({"CpusetCpus": "3-1"}, "3-1 is empty"),
        ({"CpusetMems": "0-9999"}, "Requested memory nodes are not available"),
    ],
)
def test_refused_at_create(host: dict[str, Any], message: str) -> None:
    with pytest.raises(hostopts.HostOptionError, match=message):
        hostopts.check(HostSettings.model_validate(host))


def test_accepted_at_create() -> None:
    for host in (
        {"Runtime": "runc", "PidMode": "host", "IpcMode": "shareable"},
        {"PidMode": "container:a", "IpcMode": "container:b", "UTSMode": "host"},
        {"Sysctls": {"net.core.somaxconn": "1"}, "IpcMode": "host"},
        {"CpusetCpus": "0", "CpusetMems": "0", "CpuShares": 2},
    ):
        hostopts.check(HostSettings.model_validate(host))


def test_joined_containers_by_kind() -> None:
    host = HostSettings(PidMode="container:a", IpcMode="container:b")
    assert hostopts.joined_containers(host) == {"pid": "a", "ipc": "b"}
    assert hostopts.joined_containers(HostSettings(PidMode="host")) == {}


def test_unknown_capability_still_fails_the_spec() -> None:
    with pytest.raises(SpecError, match="unknown capability"):
        spec_for({"CapDrop": ["BOGUS"]})
