"""Bad input to the API beyond create gets a 4xx whose message names the field and
the rule, as JSON, and makes nothing: no network, no bridge, no container, no image.
Each case is a request that once got a 500, or was taken when dockerd refuses it."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

import pytest

from tests.support.daemon import BUSYBOX_TAR, Pouchd

# Bridges and subnets of this module only: never an interface or route of the host.
PREFIX = f"pf{os.getpid() % 1000}b"
SUBNET = f"10.253.{os.getpid() % 250}.0/24"
BRIDGE_OPTION = "com.docker.network.bridge.name"
# The bridge names the bad requests ask for; none of them may appear.
ASKED_BRIDGES = ("5", f"{PREFIX}1", f"{PREFIX}:x")


def network_body(**fields: Any) -> dict[str, Any]:
    """A network create body that would be taken but for ``fields``."""
    body: dict[str, Any] = {
        "Name": f"{PREFIX}net",
        "IPAM": {"Config": [{"Subnet": SUBNET}]},
        "Options": {BRIDGE_OPTION: f"{PREFIX}1"},
    }
    return {**body, **fields}


def path_with(path: str, **query: str) -> str:
    return f"{path}?{urlencode(query)}" if query else path


def filters(value: Any) -> str:
    return json.dumps(value)


def deep(levels: int) -> bytes:
    return b'{"Image": "busybox", "X": ' + b"[" * levels + b"]" * levels + b"}"


def truncated_archive() -> bytes:
    data = BUSYBOX_TAR.read_bytes()
    return data[: len(data) // 2]


def links() -> set[str]:
    names = set(os.listdir("/sys/class/net"))
    return {n for n in names if n.startswith(PREFIX) or n in ASKED_BRIDGES}


def snapshot(daemon: Pouchd) -> dict[str, Any]:
    """What a refused request must leave as it was."""
    return {
        "networks": {n["Id"] for n in daemon.api("GET", "/networks")},
        "containers": {c["Id"] for c in daemon.api("GET", "/containers/json", all=1)},
        "images": {i["Id"] for i in daemon.api("GET", "/images/json")},
        "links": links(),
    }


@pytest.fixture(scope="module")
def sleeper(daemon: Pouchd) -> Iterator[str]:
    """A running container for the routes that need one."""
    cid = daemon.run(["sleep", "600"], name=f"{PREFIX}sleeper")
    yield cid
    daemon.api("DELETE", f"/containers/{cid}", force=1)


def check_refused(
    daemon: Pouchd,
    method: str,
    path: str,
    body: bytes,
    status: int,
    words: list[str],
    content_type: str = "application/json",
) -> None:
    before = snapshot(daemon)
    got, answer_type, data = daemon.send(method, path, body, content_type)
    assert got == status, (got, data)
    assert answer_type == "application/json"
    message = json.loads(data)["message"]
    for word in words:
        assert word in message, (word, message)
    assert snapshot(daemon) == before


NETWORK_CASES = [
    pytest.param(
        network_body(IPAM={"Config": [{"Subnet": "10.253.41.0/32"}]}),
        ["10.253.41.0/32", "too small", "gateway"],
        id="subnet-/32",
    ),
    pytest.param(network_body(IPAM="x"), ["IPAM:", "JSON object", "'x'"], id="ipam"),
    pytest.param(
        network_body(IPAM={"Config": [5]}),
        ["IPAM.Config.0:", "JSON object", "not 5"],
        id="ipam-config",
    ),
    pytest.param(
        network_body(IPAM={"Config": [{"Subnet": 5}]}),
        ["IPAM.Config.0.Subnet:", "must be a string", "not 5"],
        id="subnet-type",
    ),
    pytest.param(
        network_body(Options=["a"]), ["Options:", "JSON object"], id="options"
    ),
    pytest.param(network_body(Labels=5), ["Labels:", "JSON object"], id="labels"),
    pytest.param(
        network_body(Options={BRIDGE_OPTION: 5}),
        [f"Options.{BRIDGE_OPTION}:", "must be a string", "not 5"],
        id="bridge-name-int",
    ),
    pytest.param(
        network_body(Options={BRIDGE_OPTION: f"{PREFIX}:x"}),
        ["invalid interface name", f"{PREFIX}:x", "':'"],
        id="bridge-name-colon",
    ),
    pytest.param(
        network_body(Options={BRIDGE_OPTION: "pf" + "x" * 14}),
        ["invalid interface name", "1 to 15 bytes"],
        id="bridge-name-long",
    ),
    pytest.param(
        network_body(Options={BRIDGE_OPTION: "pf x"}),
        ["invalid interface name", "whitespace"],
        id="bridge-name-blank",
    ),
    pytest.param(
        network_body(Internal="yes"),
        ["Internal:", "boolean (true or false)", "'yes'"],
        id="internal",
    ),
    pytest.param(
        network_body(Name="  "), ["Name is required", "not be blank"], id="blank-name"
    ),
    pytest.param(network_body(Name=5), ["Name:", "must be a string"], id="name-type"),
    pytest.param(
        network_body(IPAM={"Driver": "nope"}), ["IPAM.Driver", "'nope'"], id="ipam-drv"
    ),
]


@pytest.mark.parametrize("body, words", NETWORK_CASES)
def test_bad_network_create(daemon: Pouchd, body: Any, words: list[str]) -> None:
    raw = json.dumps(body).encode()
    check_refused(daemon, "POST", "/networks/create", raw, 400, words)


def test_a_predefined_name_is_a_conflict(daemon: Pouchd) -> None:
    raw = json.dumps(network_body(Name="bridge")).encode()
    check_refused(daemon, "POST", "/networks/create", raw, 409, ["predefined"])


def test_a_name_with_blanks_and_slashes_is_taken_as_dockerd_takes_it(
    daemon: Pouchd,
) -> None:
    """dockerd refuses only a blank name; such a name is then found by its routes."""
    name = f"{PREFIX} a/b"
    created = daemon.api("POST", "/networks/create", network_body(Name=name))
    try:
        doc = daemon.api("GET", f"/networks/{quote(name, safe='')}")
        assert doc["Id"] == created["Id"] and doc["Name"] == name
        assert Path(f"/sys/class/net/{PREFIX}1").exists()
    finally:
        daemon.api("DELETE", f"/networks/{quote(name, safe='')}")
    assert not Path(f"/sys/class/net/{PREFIX}1").exists()


def test_bad_connect(daemon: Pouchd, sleeper: str) -> None:
    cases = [
        ({"Container": sleeper, "EndpointConfig": "x"}, ["EndpointConfig:", "JSON"]),
        ({"Container": 5}, ["Container:", "must be a string", "not 5"]),
        ({"Container": ""}, ["Container is required"]),
        (
            {
                "Container": sleeper,
                "EndpointConfig": {"IPAMConfig": {"IPv4Address": 5}},
            },
            ["EndpointConfig.IPAMConfig.IPv4Address:", "must be a string"],
        ),
    ]
    for body, words in cases:
        raw = json.dumps(body).encode()
        check_refused(daemon, "POST", "/networks/bridge/connect", raw, 400, words)
        check_refused(daemon, "POST", "/networks/bridge/disconnect", raw, 400, words)


def test_an_address_of_ones_own_needs_a_user_defined_network(
    daemon: Pouchd, sleeper: str
) -> None:
    rule = "user specified IP address is supported on user defined networks only"
    ip = {"IPAMConfig": {"IPv4Address": "10.253.0.9"}}
    for network in ("bridge", "default"):
        create = {
            "Image": "busybox",
            "NetworkingConfig": {"EndpointsConfig": {network: ip}},
        }
        raw = json.dumps(create).encode()
        check_refused(daemon, "POST", "/containers/create", raw, 400, [rule])
    connect = json.dumps({"Container": sleeper, "EndpointConfig": ip}).encode()
    check_refused(daemon, "POST", "/networks/bridge/connect", connect, 400, [rule])


FILTER_CASES = [
    ("/events", {"type": "x"}, "'type'"),
    ("/containers/json", {"status": 5}, "'status'"),
    ("/images/json", {"reference": [5]}, "'reference'"),
    ("/networks", {"name": {"a": "yes"}}, "'name'"),
    ("/volumes", {"name": None}, "'name'"),
    ("/containers/prune", {"label": [["x"]]}, "'label'"),
]


@pytest.mark.parametrize("path, value, key", FILTER_CASES)
def test_bad_filters(daemon: Pouchd, path: str, value: Any, key: str) -> None:
    method = "POST" if path.endswith("/prune") else "GET"
    query = {"filters": filters(value)}
    if path == "/events":
        query["until"] = "1"
    words = ["invalid filter", key, "a list of strings or a map of strings"]
    check_refused(daemon, method, path_with(path, **query), b"", 400, words)


def test_both_filter_forms_are_taken(daemon: Pouchd, sleeper: str) -> None:
    for value in ({"id": [sleeper]}, {"id": {sleeper: True}}):
        found = daemon.api("GET", "/containers/json", filters=filters(value))
        assert [c["Id"] for c in found] == [sleeper]
    unset = daemon.api("GET", "/containers/json", filters=filters({"id": {"x": False}}))
    assert sleeper in [c["Id"] for c in unset]


@pytest.mark.parametrize("name", ["since", "until"])
def test_bad_log_times(daemon: Pouchd, sleeper: str, name: str) -> None:
    path = path_with(f"/containers/{sleeper}/logs", stdout="1", **{name: "abc"})
    words = [f"{name}='abc'", "seconds since the epoch"]
    check_refused(daemon, "GET", path, b"", 400, words)


def test_truncated_image_archive(daemon: Pouchd) -> None:
    words = ["cannot load image archive: not a whole tar archive", "end of data"]
    check_refused(
        daemon, "POST", "/images/load", truncated_archive(), 400, words,
        content_type="application/x-tar",
    )  # fmt: skip


@pytest.mark.parametrize("levels", [101, 900, 100_000])
def test_deeply_nested_bodies(daemon: Pouchd, levels: int) -> None:
    words = ["nested too deeply", "at most 100 levels"]
    for path in ("/containers/create", "/networks/create", "/volumes/create"):
        check_refused(daemon, "POST", path, deep(levels), 400, words)


def test_bad_wait_condition_is_refused_before_the_headers(
    daemon: Pouchd, sleeper: str
) -> None:
    path = path_with(f"/containers/{sleeper}/wait", condition="bogus")
    words = ["invalid condition 'bogus'", "not-running, next-exit, removed"]
    check_refused(daemon, "POST", path, b"", 400, words)


@pytest.mark.parametrize(
    "body, words",
    [
        ({"Memory": 1}, ["Minimum memory limit allowed is 6MB"]),
        ({"Memory": -1}, ["HostConfig.Memory -1", "must not be negative"]),
        ({"CpuShares": -2}, ["HostConfig.CpuShares -2", "must not be negative"]),
        ({"Memory": "lots"}, ["Memory:", "must be an integer", "'lots'"]),
        ({"Memory": 2**64}, ["Memory:", "out of the int64 range"]),
        ({"RestartPolicy": {"Name": "sometimes"}}, ["sometimes"]),
    ],
)
def test_bad_update_is_refused_as_create_refuses_it(
    daemon: Pouchd, sleeper: str, body: dict[str, Any], words: list[str]
) -> None:
    before = daemon.inspect(sleeper)["HostConfig"]
    raw = json.dumps(body).encode()
    check_refused(daemon, "POST", f"/containers/{sleeper}/update", raw, 400, words)
    assert daemon.inspect(sleeper)["HostConfig"] == before


def test_null_in_update_is_not_set(daemon: Pouchd, sleeper: str) -> None:
    mib = 1024 * 1024
    daemon.api("POST", f"/containers/{sleeper}/update", {"Memory": 64 * mib})
    body = {"Memory": None, "RestartPolicy": None, "CpuShares": 512}
    daemon.api("POST", f"/containers/{sleeper}/update", body)
    host = daemon.inspect(sleeper)["HostConfig"]
    assert (host["Memory"], host["CpuShares"]) == (64 * mib, 512)


@pytest.mark.parametrize(
    "body",
    [
        {"HostConfig": None},
        {"HostConfig": {"RestartPolicy": None, "LogConfig": None}},
        {"HostConfig": {"Memory": None, "Binds": None}, "NetworkingConfig": None},
    ],
)
def test_null_in_create_is_not_set(daemon: Pouchd, body: dict[str, Any]) -> None:
    cid = daemon.create(["true"], **body)
    try:
        host = daemon.inspect(cid)["HostConfig"]
        assert host["RestartPolicy"]["Name"] in ("", "no")
        assert host["LogConfig"]["Type"] == "json-file"
        assert host["Memory"] == 0
    finally:
        daemon.api("DELETE", f"/containers/{cid}")
