"""Published ports on a real daemon: reached from the host's loopback, shown in
inspect and ps, refused with 409 when taken, gone when the container stops."""

from __future__ import annotations

import json
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.daemon import ROOT, Pouchd

HTTPD = ["httpd", "-f", "-p", "8080", "-h", "/etc"]
UDP_ECHO_SOURCE = ROOT / "tests" / "support" / "udp_echo.c"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def fetch(port: int, path: str = "/hostname", tries: int = 50) -> str:
    """GET from 127.0.0.1:port; httpd may take a moment to listen."""
    for _ in range(tries):
        try:
            with urllib.request.urlopen(
                f"http://127.0.0.1:{port}{path}", timeout=5
            ) as r:
                return str(r.read().decode())
        except OSError:
            time.sleep(0.1)
    raise AssertionError(f"nothing answered on 127.0.0.1:{port}")


def refused(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) != 0


def dnat_rules(port: int) -> list[str]:
    out = subprocess.run(
        ["iptables", "-w", "-t", "nat", "-S"], capture_output=True, text=True
    ).stdout
    return [r for r in out.splitlines() if f"--dport {port} " in r and "DNAT" in r]


def published(port: int, host_ip: str = "") -> dict[str, object]:
    return {
        "ExposedPorts": {"8080/tcp": {}},
        "HostConfig": {
            "PortBindings": {"8080/tcp": [{"HostIp": host_ip, "HostPort": str(port)}]}
        },
    }


def forward_rules_to(subnet_prefix: str) -> list[str]:
    """Our DNAT and ACCEPT rules for published ports that lead into a subnet."""
    rules = []
    for table, chain in (("nat", "POUCH"), ("filter", "POUCH-FORWARD")):
        out = subprocess.run(
            ["iptables", "-w", "-t", table, "-S", chain], capture_output=True, text=True
        ).stdout
        rules += [
            r for r in out.splitlines()
            if subnet_prefix in r and ("DNAT" in r or "--dport" in r)
        ]  # fmt: skip
    return rules


@pytest.fixture(scope="module", autouse=True)
def no_port_leaks(daemon: Pouchd) -> Iterator[None]:
    """After the module: no rule for a published port into the session daemon's
    subnet, and no listener of its left (each test's ports are checked refused)."""
    prefix = daemon.bip.rsplit(".", 1)[0] + "."
    yield
    assert not forward_rules_to(prefix), forward_rules_to(prefix)


@pytest.fixture
def containers(daemon: Pouchd) -> Iterator[list[str]]:
    made: list[str] = []
    yield made
    for cid in made:
        daemon.status_of("DELETE", f"/containers/{cid}", force=1)


def test_published_port_reaches_the_container_from_loopback(
    daemon: Pouchd, containers: list[str]
) -> None:
    port = free_port()
    cid = daemon.run(HTTPD, **published(port))
    containers.append(cid)
    assert fetch(port).strip() == cid[:12]

    doc = daemon.inspect(cid)
    assert doc["NetworkSettings"]["Ports"] == {
        "8080/tcp": [{"HostIp": "0.0.0.0", "HostPort": str(port)}]
    }
    assert doc["HostConfig"]["PortBindings"] == {
        "8080/tcp": [{"HostIp": "", "HostPort": str(port)}]
    }
    listed = daemon.api("GET", "/containers/json", filters=json.dumps({"id": [cid]}))
    assert listed[0]["Ports"] == [
        {"IP": "0.0.0.0", "PrivatePort": 8080, "PublicPort": port, "Type": "tcp"}
    ]
    assert dnat_rules(port), "no DNAT rule for the published port"

    # Stopped: the listener and the rules go.
    daemon.api("POST", f"/containers/{cid}/stop", t=1)
    assert refused(port)
    assert not dnat_rules(port)
    assert daemon.inspect(cid)["NetworkSettings"]["Ports"] == {"8080/tcp": None}

    # Started again: the same port comes back.
    daemon.api("POST", f"/containers/{cid}/start")
    assert fetch(port).strip() == cid[:12]
    daemon.api("DELETE", f"/containers/{cid}", force=1)
    assert refused(port) and not dnat_rules(port)


def test_publish_all_picks_free_host_ports(
    daemon: Pouchd, containers: list[str]
) -> None:
    cid = daemon.run(
        HTTPD, ExposedPorts={"8080/tcp": {}}, HostConfig={"PublishAllPorts": True}
    )
    containers.append(cid)
    ports = daemon.inspect(cid)["NetworkSettings"]["Ports"]["8080/tcp"]
    port = int(ports[0]["HostPort"])
    assert port > 0
    assert fetch(port).strip() == cid[:12]


def test_port_conflicts_are_409_before_anything_starts(
    daemon: Pouchd, containers: list[str]
) -> None:
    port = free_port()
    first = daemon.run(HTTPD, name="holder", **published(port))
    containers.append(first)

    second = daemon.create(HTTPD, **published(port))
    containers.append(second)
    status, body = daemon.status_of("POST", f"/containers/{second}/start")
    assert status == 409, body
    assert str(port) in body["message"] and "holder" in body["message"]
    doc = daemon.inspect(second)
    assert doc["State"]["Status"] == "created"
    assert all(not n["IPAddress"] for n in doc["NetworkSettings"]["Networks"].values())
    assert fetch(port).strip() == first[:12]

    # A port some other program holds.
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        other = taken.getsockname()[1]
        third = daemon.create(HTTPD, **published(other, "127.0.0.1"))
        containers.append(third)
        status, body = daemon.status_of("POST", f"/containers/{third}/start")
        assert status == 409 and f"127.0.0.1:{other}/tcp" in body["message"]
        assert not dnat_rules(other)


def test_bad_port_specs_are_400(daemon: Pouchd) -> None:
    for bindings in (
        {"http/tcp": []},
        {"80/sctp": []},
        {"80/tcp": [{"HostPort": "x"}]},
    ):
        body = {"Image": "busybox", "Cmd": ["true"],
                "HostConfig": {"PortBindings": bindings}}  # fmt: skip
        status, body = daemon.status_of("POST", "/containers/create", body)
        assert status == 400, body


@pytest.fixture(scope="module")
def udp_echo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A directory holding the static UDP echo server, to bind into containers."""
    out = tmp_path_factory.mktemp("udp-echo")
    subprocess.run(
        ["gcc", "-static", "-O2", "-o", str(out / "udp_echo"), str(UDP_ECHO_SOURCE)],
        check=True,
    )
    return out


def udp_ask(port: int, data: bytes, tries: int = 50) -> bytes | None:
    """``data`` to 127.0.0.1:port, the answer or None; the server may take a moment."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(0.2)
        s.connect(("127.0.0.1", port))
        for _ in range(tries):
            try:
                s.send(data)
                return s.recv(2048)
            except (TimeoutError, ConnectionRefusedError):
                time.sleep(0.05)
    return None


def test_published_udp_port_reaches_the_container_from_loopback(
    daemon: Pouchd, containers: list[str], udp_echo: Path
) -> None:
    port = free_port()
    cid = daemon.run(
        ["/opt/echo/udp_echo", "9090"],
        ExposedPorts={"9090/udp": {}},
        HostConfig={
            "Binds": [f"{udp_echo}:/opt/echo:ro"],
            "PortBindings": {"9090/udp": [{"HostPort": str(port)}]},
        },
    )
    containers.append(cid)
    assert udp_ask(port, b"ping") == b"echo:ping"
    assert udp_ask(port, b"x" * 1500) == b"echo:" + b"x" * 1500
    assert daemon.inspect(cid)["NetworkSettings"]["Ports"] == {
        "9090/udp": [{"HostIp": "0.0.0.0", "HostPort": str(port)}]
    }
    rules = dnat_rules(port)
    assert rules and all("-p udp" in rule for rule in rules), rules

    daemon.api("POST", f"/containers/{cid}/stop", t=1)
    assert udp_ask(port, b"ping", tries=5) is None  # nothing forwards any more
    assert not dnat_rules(port)
