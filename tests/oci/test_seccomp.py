"""The seccomp section of a container's spec: the default filter and what the
capabilities and security options change in it."""

from pathlib import Path

import pytest

from pouch.oci import SpecInput, build_spec, defaults, seccomp
from pouch.oci.spec import SpecError
from pouch.types import CreateRequest


def spec_for(host: dict) -> dict:  # type: ignore[type-arg]
    request = CreateRequest.model_validate({"Image": "busybox", "HostConfig": host})
    inp = SpecInput(
        container_id="c1", config=request, host_config=request.HostConfig,
        image_config={"Cmd": ["sh"]}, hostname="h",
    )  # fmt: skip
    return build_spec(inp)


def denied(profile: dict) -> set[str]:  # type: ignore[type-arg]
    return {
        name
        for rule in profile["syscalls"]
        if rule["action"] == "SCMP_ACT_ERRNO" and "args" not in rule
        for name in rule["names"]
    }


def test_default_filter_closes_namespaces_and_the_keyring() -> None:
    profile = spec_for({})["linux"]["seccomp"]
    assert profile["defaultAction"] == "SCMP_ACT_ALLOW"
    assert {"unshare", "setns", "keyctl", "mount", "clone3", "bpf"} <= denied(profile)
    flags = sorted(
        rule["args"][0]["value"] for rule in profile["syscalls"]
        if rule["names"] == ["clone"]
    )  # fmt: skip
    assert flags == sorted(seccomp.NAMESPACE_FLAGS.values())
    assert all(
        rule["args"][0]["op"] == "SCMP_CMP_MASKED_EQ"
        for rule in profile["syscalls"] if rule["names"] == ["clone"]
    )  # fmt: skip
    clone3 = next(r for r in profile["syscalls"] if r["names"] == ["clone3"])
    assert clone3["errnoRet"] == seccomp.ENOSYS  # so the C library falls back


def test_a_capability_given_back_opens_its_calls() -> None:
    admin = spec_for({"CapAdd": ["SYS_ADMIN"]})["linux"]["seccomp"]
    assert not {"unshare", "setns", "mount"} & denied(admin)
    assert not any(r["names"] == ["clone"] for r in admin["syscalls"])
    assert "keyctl" in denied(admin)  # no capability opens the keyring
    time = spec_for({"CapAdd": ["SYS_TIME"]})["linux"]["seccomp"]
    assert "settimeofday" not in denied(time) and "unshare" in denied(time)


def test_privileged_and_unconfined_run_without_a_filter() -> None:
    assert "seccomp" not in spec_for({"Privileged": True})["linux"]
    unconfined = spec_for({"SecurityOpt": ["seccomp=unconfined"]})
    assert "seccomp" not in unconfined["linux"]
    assert "seccomp" not in spec_for({"SecurityOpt": ["seccomp:unconfined"]})["linux"]


def test_a_profile_given_as_json_replaces_the_default() -> None:
    text = (
        '{"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_X86_64"],'
        ' "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_ERRNO"}],'
        ' "comment": "not for the runtime"}'
    )
    profile = spec_for({"SecurityOpt": [f"seccomp={text}"]})["linux"]["seccomp"]
    assert profile == {
        "defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_X86_64"],
        "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_ERRNO"}],
    }  # fmt: skip


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{not json", "not JSON"),
        ('{"syscalls": []}', "defaultAction is required"),
        ('{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"action": "x"}]}',
         "each rule needs names"),
        ('{"defaultAction": "SCMP_ACT_ALLOW", "archMap": []}', "archMap"),
    ],
)  # fmt: skip
def test_bad_profiles_are_refused_with_the_reason(text: str, message: str) -> None:
    with pytest.raises(SpecError, match=message):
        spec_for({"SecurityOpt": [f"seccomp={text}"]})


def test_privileged_gets_the_daemons_bounding_set(tmp_path: Path) -> None:
    status = tmp_path / "status"
    # Every capability but CAP_SYS_RESOURCE (24), as on a host that withholds it.
    status.write_text("Name:\tx\nCapBnd:\t000001fffeffffff\n")
    caps = defaults.host_capabilities(str(status))
    assert "CAP_SYS_RESOURCE" not in caps and "CAP_SYS_ADMIN" in caps
    assert len(caps) == len(defaults.ALL_CAPABILITIES) - 1
    status.write_text("Name:\tx\nCapBnd:\t00000000a80425fb\n")  # docker's defaults
    assert sorted(defaults.host_capabilities(str(status))) == sorted(
        defaults.CAPABILITIES
    )
