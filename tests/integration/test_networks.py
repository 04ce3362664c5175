"""User-defined networks on a real daemon: names, addresses, routes, the embedded
DNS server and endpoints that come and go on running containers."""

from __future__ import annotations

import json
import os
import subprocess
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.daemon import Pouchd

# Subnets and bridges of this module only, so that leaks are ours to find and
# other suites' daemons on the host are never touched.
_TAG = os.getpid() % 250
PREFIX = f"pn{os.getpid() % 1000}"


def subnet(k: int) -> str:
    return f"10.{170 + k}.{_TAG}.0/24"


def bridge(k: int) -> str:
    return f"{PREFIX}x{k}"


def make_network(d: Pouchd, name: str, k: int, **extra: Any) -> str:
    body = {
        "Name": name,
        "IPAM": {"Config": [{"Subnet": subnet(k)}]},
        "Options": {"com.docker.network.bridge.name": bridge(k)},
        **extra,
    }
    return str(d.api("POST", "/networks/create", body)["Id"])


def on_networks(*names: str, **endpoint: Any) -> dict[str, Any]:
    """The create body's part that puts a container on ``names``."""
    return {
        "HostConfig": {"NetworkMode": names[0]},
        "NetworkingConfig": {"EndpointsConfig": {n: dict(endpoint) for n in names}},
    }


def in_netns(d: Pouchd, cid: str, *argv: str) -> str:
    pid = d.inspect(cid)["State"]["Pid"]
    return subprocess.run(
        ["nsenter", "-t", str(pid), "-n", *argv],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip


def default_routes(d: Pouchd, cid: str) -> list[dict[str, Any]]:
    out = in_netns(d, cid, "ip", "-j", "-4", "route", "show", "default")
    return list(json.loads(out or "[]"))


def fetch_by_name(name: str, path: str) -> list[str]:
    """A command that finds ``name`` through the container's resolver and fetches
    ``path`` from port 8080 there. busybox's own nslookup does the lookup: the
    static busybox's wget cannot use glibc's resolver."""
    script = (
        f"ip=$(nslookup {name} | sed -n 's/^Address:* *\\([0-9.]*\\)$/\\1/p' "
        '| tail -n 1); echo "addr=$ip"; '
        f'wget -q -O - "http://$ip:8080{path}"'
    )
    return ["sh", "-c", script]


def run_to_end(d: Pouchd, cmd: list[str], **body: Any) -> tuple[int, str]:
    cid = d.run(cmd, **body)
    code = d.wait(cid)
    out = d.logs(cid).decode()
    d.api("DELETE", f"/containers/{cid}")
    return code, out


def our_links() -> set[str]:
    out = subprocess.run(["ip", "-o", "link", "show"], capture_output=True, text=True)
    return {
        line.split(":")[1].strip().split("@")[0]
        for line in out.stdout.splitlines()
        if PREFIX in line
    }


def our_rules() -> list[str]:
    rules = []
    for table in ("nat", "filter"):
        out = subprocess.run(
            ["iptables", "-w", "-t", table, "-S"], capture_output=True, text=True
        ).stdout
        rules += [r for r in out.splitlines() if f".{_TAG}." in r or PREFIX in r]
    return [
        r for r in rules if any(f"10.{170 + k}." in r for k in range(10)) or PREFIX in r
    ]


@pytest.fixture(scope="module", autouse=True)
def no_network_leaks() -> Iterator[None]:
    """After the module: no bridge, veth or rule of its networks is left."""
    yield
    assert not our_links(), f"interfaces left: {our_links()}"
    assert not our_rules(), f"rules left: {our_rules()}"


@pytest.fixture
def networks(daemon: Pouchd) -> Iterator[list[str]]:
    """Networks the test makes go in this list; they are removed after it."""
    made: list[str] = []
    yield made
    for network in made:
        daemon.status_of("DELETE", f"/networks/{network}")


def test_network_objects(daemon: Pouchd, networks: list[str]) -> None:
    nid = make_network(
        daemon, "objects", 0, Labels={"team": "blue"}, Internal=True,
        Options={"com.docker.network.bridge.name": bridge(0),
                 "com.docker.network.driver.mtu": "1400"},
    )  # fmt: skip
    networks.append(nid)
    doc = daemon.api("GET", f"/networks/{nid[:12]}")
    assert doc["Name"] == "objects" and doc["Driver"] == "bridge"
    assert doc["IPAM"]["Config"] == [
        {"Subnet": subnet(0), "Gateway": subnet(0).replace(".0/24", ".1")}
    ]
    assert doc["Internal"] is True and doc["Labels"] == {"team": "blue"}
    assert doc["Options"]["com.docker.network.bridge.name"] == bridge(0)
    mtu = Path(f"/sys/class/net/{bridge(0)}/mtu").read_text().strip()
    assert mtu == "1400"
    names = [n["Name"] for n in daemon.api("GET", "/networks")]
    assert {"bridge", "host", "none", "objects"} <= set(names)

    status, body = daemon.status_of(
        "POST", "/networks/create",
        {"Name": "overlapping", "IPAM": {"Config": [{"Subnet": subnet(0)}]}},
    )  # fmt: skip
    assert status == 400
    assert "overlapping" in body["message"] and "objects" in body["message"]

    status, body = daemon.status_of("POST", "/networks/create", {"Name": "objects"})
    assert status == 409

    daemon.api("DELETE", f"/networks/{nid}")
    assert not Path(f"/sys/class/net/{bridge(0)}").exists()
    status, _ = daemon.status_of("GET", f"/networks/{nid}")
    assert status == 404


def test_containers_on_a_user_network_reach_each_other_by_name(
    daemon: Pouchd, networks: list[str]
) -> None:
    networks.append(make_network(daemon, "byname", 1))
    server = daemon.run(
        ["httpd", "-f", "-p", "8080", "-h", "/etc"],
        name="web-by-name",
        **on_networks("byname", Aliases=["www"]),
    )
    try:
        for target in ("web-by-name", "www", server[:12]):
            code, out = run_to_end(
                daemon,
                fetch_by_name(target, "/hostname"),
                **on_networks("byname"),
            )
            assert code == 0, out
            assert out.strip().splitlines()[-1] == server[:12]

        code, out = run_to_end(daemon, ["cat", "/etc/resolv.conf"],
                               **on_networks("byname"))  # fmt: skip
        assert "nameserver 127.0.0.11" in out.splitlines()
        doc = daemon.api("GET", "/networks/byname")
        assert list(doc["Containers"]) == [server]
        assert doc["Containers"][server]["Name"] == "web-by-name"
    finally:
        daemon.api("DELETE", f"/containers/{server}", force=1)


def test_default_bridge_reaches_by_address(daemon: Pouchd) -> None:
    server = daemon.run(["httpd", "-f", "-p", "8080", "-h", "/etc"])
    try:
        address = daemon.inspect(server)["NetworkSettings"]["IPAddress"]
        code, out = run_to_end(
            daemon, ["wget", "-q", "-O", "-", f"http://{address}:8080/hostname"]
        )
        assert code == 0, out
        assert out.strip() == server[:12]
    finally:
        daemon.api("DELETE", f"/containers/{server}", force=1)


def test_user_networks_are_isolated_from_each_other(
    daemon: Pouchd, networks: list[str]
) -> None:
    networks.append(make_network(daemon, "left", 6))
    networks.append(make_network(daemon, "right", 7))
    server = daemon.run(["httpd", "-f", "-p", "8080", "-h", "/etc"],
                        **on_networks("left"))  # fmt: skip
    try:
        address = daemon.inspect(server)["NetworkSettings"]["Networks"]["left"]
        probe = (
            "printf 'GET /hostname HTTP/1.0\\r\\n\\r\\n' | "
            f"nc -w 2 {address['IPAddress']} 8080"
        )
        code, out = run_to_end(daemon, ["sh", "-c", probe], **on_networks("left"))
        assert server[:12] in out
        code, out = run_to_end(daemon, ["sh", "-c", probe], **on_networks("right"))
        assert server[:12] not in out
    finally:
        daemon.api("DELETE", f"/containers/{server}", force=1)


def test_internal_network_has_no_default_route(
    daemon: Pouchd, networks: list[str]
) -> None:
    networks.append(make_network(daemon, "inside", 2, Internal=True))
    cid = daemon.run(["sleep", "300"], **on_networks("inside"))
    try:
        assert default_routes(daemon, cid) == []
        address = daemon.inspect(cid)["NetworkSettings"]["Networks"]["inside"]
        assert address["IPAddress"].startswith(subnet(2).rsplit(".", 1)[0])
    finally:
        daemon.api("DELETE", f"/containers/{cid}", force=1)


def test_fixed_address_mac_and_modes(daemon: Pouchd, networks: list[str]) -> None:
    networks.append(make_network(daemon, "fixed", 3))
    address = subnet(3).replace(".0/24", ".77")
    cid = daemon.run(
        ["sleep", "300"],
        MacAddress="02:42:0a:0b:0c:0d",
        **on_networks("fixed", IPAMConfig={"IPv4Address": address}),
    )
    try:
        net = daemon.inspect(cid)["NetworkSettings"]["Networks"]["fixed"]
        assert net["IPAddress"] == address
        assert net["MacAddress"] == "02:42:0a:0b:0c:0d"
        assert "02:42:0a:0b:0c:0d" in in_netns(
            daemon, cid, "ip", "link", "show", "eth0"
        )

        # Another container asking for the same address is refused, and left
        # created with nothing allocated.
        other = daemon.create(
            ["sleep", "300"],
            **on_networks("fixed", IPAMConfig={"IPv4Address": address}),
        )
        status, body = daemon.status_of("POST", f"/containers/{other}/start")
        assert status == 409 and address in body["message"]
        assert daemon.inspect(other)["State"]["Status"] == "created"
        daemon.api("DELETE", f"/containers/{other}")

        # container:<name> shares the namespace: same interfaces, no endpoint.
        code, out = run_to_end(
            daemon, ["ip", "addr", "show", "eth0"],
            HostConfig={"NetworkMode": f"container:{cid}"},
        )  # fmt: skip
        assert code == 0 and address in out

        code, out = run_to_end(daemon, ["ip", "-o", "link"],
                               HostConfig={"NetworkMode": "none"})  # fmt: skip
        assert code == 0 and "eth0" not in out
    finally:
        daemon.api("DELETE", f"/containers/{cid}", force=1)


def test_connect_and_disconnect_a_running_container(
    daemon: Pouchd, networks: list[str]
) -> None:
    networks.append(make_network(daemon, "first", 4))
    networks.append(make_network(daemon, "second", 5))
    from tests.integration.test_ports import fetch, free_port

    port = free_port()
    body = on_networks("first")
    body["HostConfig"]["PortBindings"] = {"8080/tcp": [{"HostPort": str(port)}]}
    cid = daemon.run(["httpd", "-f", "-p", "8080", "-h", "/etc"], **body)
    try:
        gateway = subnet(4).replace(".0/24", ".1")
        assert default_routes(daemon, cid)[0]["gateway"] == gateway

        daemon.api("POST", "/networks/second/connect", {"Container": cid})
        links = in_netns(daemon, cid, "ip", "-o", "link")
        assert "eth1" in links
        doc = daemon.inspect(cid)["NetworkSettings"]["Networks"]
        assert set(doc) == {"first", "second"}
        assert doc["second"]["IPAddress"].startswith(subnet(5).rsplit(".", 1)[0])

        # The default route's endpoint goes: the route moves to the other one.
        daemon.api("POST", "/networks/first/disconnect", {"Container": cid})
        assert "eth0" not in in_netns(daemon, cid, "ip", "-o", "link")
        second_gateway = subnet(5).replace(".0/24", ".1")
        assert default_routes(daemon, cid)[0]["gateway"] == second_gateway
        assert set(daemon.inspect(cid)["NetworkSettings"]["Networks"]) == {"second"}
        # The published port follows to the address that is left.
        assert fetch(port).strip() == cid[:12]
        ports = daemon.inspect(cid)["NetworkSettings"]["Ports"]["8080/tcp"]
        assert ports == [{"HostIp": "0.0.0.0", "HostPort": str(port)}]

        status, body = daemon.status_of("DELETE", "/networks/second")
        assert status == 409 and cid[:12] in body["message"]
    finally:
        daemon.api("DELETE", f"/containers/{cid}", force=1)


def test_connect_from_the_default_bridge_brings_the_embedded_resolver(
    daemon: Pouchd, networks: list[str]
) -> None:
    networks.append(make_network(daemon, "later", 4))
    cid = daemon.run(["sleep", "300"], name="joins-later")
    try:
        resolv = Path(daemon.inspect(cid)["ResolvConfPath"])
        assert "127.0.0.11" not in resolv.read_text()

        daemon.api("POST", "/networks/later/connect", {"Container": cid})
        assert "nameserver 127.0.0.11" in resolv.read_text()
        out = in_netns(daemon, cid, "busybox", "nslookup", "joins-later", "127.0.0.11")
        ip = daemon.inspect(cid)["NetworkSettings"]["Networks"]["later"]["IPAddress"]
        assert ip in out

        daemon.api("POST", "/networks/later/disconnect", {"Container": cid})
        assert "127.0.0.11" not in resolv.read_text()
    finally:
        daemon.api("DELETE", f"/containers/{cid}", force=1)


def test_prune_removes_unused_networks(daemon: Pouchd, networks: list[str]) -> None:
    networks.append(make_network(daemon, "unused", 6))
    networks.append(make_network(daemon, "used", 7))
    cid = daemon.create(["true"], **on_networks("used"))
    try:
        deleted = daemon.api("POST", "/networks/prune")["NetworksDeleted"]
        assert "unused" in deleted and "used" not in deleted
    finally:
        daemon.api("DELETE", f"/containers/{cid}")


PRIORITY_PLUGIN = """
    import json
    from pathlib import Path

    # Which network each call is for is not passed to the plugin; it answers the
    # priorities of this file, in order, one per call.
    ANSWERS = Path({answers!r})

    class ContainerPlugin:
        def pre_create_endpoint(self, container_id, env):
            answers = json.loads(ANSWERS.read_text())
            priority = answers.pop(0)
            ANSWERS.write_text(json.dumps(answers))
            nodns = "NODNS=1" in (env or [])
            params = {{}}
            if "IFPREFIX=1" in (env or []):
                params = {{"com.pouch.network.endpoint.ifname_prefix": "net",
                          "MacAddress": "02:42:0a:00:00:42", "team": "blue"}}
            return priority, nodns, params
"""


@pytest.fixture
def plugged(fresh_daemon, tmp_path: Path):  # type: ignore[no-untyped-def]
    answers = tmp_path / "answers.json"
    answers.write_text("[]")
    plugin = tmp_path / "priorities.py"
    plugin.write_text(textwrap.dedent(PRIORITY_PLUGIN.format(answers=str(answers))))
    d: Pouchd = fresh_daemon(plugins=[str(plugin)]).start()
    d.load_busybox()
    yield d, answers
    for name in ("pa", "pb"):
        d.status_of("DELETE", f"/networks/{name}")


def test_default_route_follows_plugin_priority(plugged) -> None:  # type: ignore[no-untyped-def]
    d, answers = plugged
    make_network(d, "pa", 8)
    make_network(d, "pb", 9)
    via_a = subnet(8).replace(".0/24", ".1")
    via_b = subnet(9).replace(".0/24", ".1")

    for priorities, expected in (([10, 1], via_a), ([1, 10], via_b)):
        answers.write_text(json.dumps(priorities))
        cid = d.run(["sleep", "300"], **on_networks("pa", "pb"))
        try:
            routes = default_routes(d, cid)
            assert [r["gateway"] for r in routes] == [expected]
            nets = d.inspect(cid)["NetworkSettings"]["Networks"]
            assert (nets["pa"]["Priority"], nets["pb"]["Priority"]) == tuple(priorities)
        finally:
            d.api("DELETE", f"/containers/{cid}", force=1)


def test_disable_resolver_gives_the_host_resolvers(plugged) -> None:  # type: ignore[no-untyped-def]
    d, answers = plugged
    make_network(d, "pa", 8)
    answers.write_text(json.dumps([0, 0, 0]))
    peer = d.run(["sleep", "300"], name="peer", **on_networks("pa"))
    try:
        # False: the embedded server answers the peer's name.
        code, out = run_to_end(d, ["nslookup", "peer"], **on_networks("pa"))
        assert code == 0, out
        peer_ip = d.inspect(peer)["NetworkSettings"]["Networks"]["pa"]["IPAddress"]
        assert peer_ip in out

        # True: the host's resolvers, and nothing listens on 127.0.0.11.
        host = [
            line for line in Path("/etc/resolv.conf").read_text().splitlines()
            if line.startswith("nameserver") and not line.split()[1].startswith("127.")
        ]  # fmt: skip
        code, out = run_to_end(
            d,
            [
                "sh",
                "-c",
                "cat /etc/resolv.conf; echo ---; nslookup peer 127.0.0.11 || echo NXX",
            ],
            Env=["NODNS=1"],
            **on_networks("pa"),
        )
        resolv = out.split("---")[0]
        assert "127.0.0.11" not in resolv
        assert all(line in resolv for line in host)
        assert "NXX" in out and peer_ip not in out
        nets = d.inspect(peer)["NetworkSettings"]["Networks"]
        assert nets["pa"]["DisableResolver"] is False
    finally:
        d.api("DELETE", f"/containers/{peer}", force=1)


def test_restart_keeps_addresses_routes_ports_and_names(fresh_daemon) -> None:  # type: ignore[no-untyped-def]
    from tests.integration.test_ports import free_port, published

    d: Pouchd = fresh_daemon().start()
    d.load_busybox()
    make_network(d, "kept", 8)
    port = free_port()
    body = on_networks("kept")
    body["HostConfig"].update(published(port)["HostConfig"])  # type: ignore[arg-type]
    try:
        restart_and_check(d, port, body)
    finally:
        d.remove_all()
        d.api("DELETE", "/networks/kept")


def restart_and_check(d: Pouchd, port: int, body: dict[str, Any]) -> None:
    from tests.integration.test_ports import fetch

    web = d.run(["httpd", "-f", "-p", "8080", "-h", "/etc"], name="kept-web", **body)
    before = d.inspect(web)["NetworkSettings"]["Networks"]["kept"]["IPAddress"]
    routes = default_routes(d, web)
    assert fetch(port).strip() == web[:12]

    assert d.stop() == 0  # the container runs on without the daemon
    d.start()

    assert d.inspect(web)["State"]["Running"]
    assert d.inspect(web)["NetworkSettings"]["Networks"]["kept"]["IPAddress"] == before
    assert before in in_netns(d, web, "ip", "-4", "addr", "show", "eth0")
    assert default_routes(d, web) == routes
    assert fetch(port).strip() == web[:12]
    code, out = run_to_end(d, fetch_by_name("kept-web", "/hostname"),
                           **on_networks("kept"))  # fmt: skip
    assert code == 0, out
    assert out.strip().splitlines()[-1] == web[:12]

    fresh = d.run(["sleep", "300"], **on_networks("kept"))
    after = d.inspect(fresh)["NetworkSettings"]["Networks"]["kept"]["IPAddress"]
    assert after != before


def test_network_commands(daemon: Pouchd, networks: list[str]) -> None:
    from tests.integration.test_cli import ok, pouch
    from tests.integration.test_ports import fetch, free_port

    networks.append("clinet")
    option = f"com.docker.network.bridge.name={bridge(6)}"
    nid = ok(daemon, "network", "create", "--subnet", subnet(6), "--ip-range",
             subnet(6).replace(".0/24", ".128/25"), "--label", "a=b",
             "-o", option, "clinet").strip()  # fmt: skip
    listed = ok(daemon, "network", "ls").splitlines()
    assert listed[0].split() == ["NETWORK", "ID", "NAME", "DRIVER", "SCOPE"]
    assert [nid[:12], "clinet", "bridge", "local"] in [r.split() for r in listed]
    doc = json.loads(ok(daemon, "network", "inspect", "clinet"))[0]
    assert doc["IPAM"]["Config"][0]["IPRange"] == subnet(6).replace(".0/24", ".128/25")

    port = free_port()
    cid = ok(daemon, "run", "-d", "--network", "clinet", "--network-alias", "srv",
             "-p", f"127.0.0.1:{port}:8080", "busybox",
             "httpd", "-f", "-p", "8080", "-h", "/etc").strip()  # fmt: skip
    try:
        net = daemon.inspect(cid)["NetworkSettings"]["Networks"]["clinet"]
        assert int(net["IPAddress"].rsplit(".", 1)[1]) >= 128  # from the ip range
        assert net["Aliases"] == ["srv"]
        assert fetch(port).strip() == cid[:12]
        assert f"127.0.0.1:{port}->8080/tcp" in ok(daemon, "ps")

        ok(daemon, "network", "disconnect", "clinet", cid)
        ok(daemon, "network", "connect", "--alias", "again", "clinet", cid)
        net = daemon.inspect(cid)["NetworkSettings"]["Networks"]["clinet"]
        assert net["Aliases"] == ["again"] and net["IPAddress"]

        failed = pouch(daemon, "network", "rm", "clinet")
        assert failed.returncode == 1 and "active endpoints" in failed.stderr
    finally:
        daemon.api("DELETE", f"/containers/{cid}", force=1)
    ok(daemon, "network", "rm", "clinet")
    assert "clinet" not in ok(daemon, "network", "ls")


def test_generic_params_name_the_interface_and_are_kept(plugged) -> None:  # type: ignore[no-untyped-def]
    d, answers = plugged
    make_network(d, "pa", 8)
    answers.write_text(json.dumps([0]))
    cid = d.run(["sleep", "300"], Env=["IFPREFIX=1"], **on_networks("pa"))
    try:
        links = in_netns(d, cid, "ip", "-o", "link")
        assert "net0" in links and "eth0" not in links
        assert "02:42:0a:00:00:42" in links
        nets = d.inspect(cid)["NetworkSettings"]["Networks"]
        assert nets["pa"]["GenericParams"]["team"] == "blue"
        assert nets["pa"]["MacAddress"] == "02:42:0a:00:00:42"
        assert default_routes(d, cid)[0]["dev"] == "net0"
    finally:
        d.api("DELETE", f"/containers/{cid}", force=1)


def test_a_container_that_died_while_the_daemon_was_away_leaves_nothing(
    fresh_daemon,  # type: ignore[no-untyped-def]
) -> None:
    from tests.integration.test_ports import dnat_rules, free_port, published, refused

    d: Pouchd = fresh_daemon().start()
    d.load_busybox()
    make_network(d, "gone", 9)
    try:
        port = free_port()
        body = on_networks("gone")
        body["HostConfig"].update(published(port)["HostConfig"])  # type: ignore[arg-type]
        cid = d.run(["sleep", "300"], **body)
        pid = d.inspect(cid)["State"]["Pid"]
        veths = our_veths_on(bridge(9))
        assert veths and dnat_rules(port)

        assert d.stop() == 0
        os.kill(pid, 9)
        d.start()

        assert d.inspect(cid)["State"]["Status"] == "exited"
        assert not our_veths_on(bridge(9))
        assert not dnat_rules(port) and refused(port)
        assert d.api("GET", "/networks/gone")["Containers"] == {}
        d.api("DELETE", f"/containers/{cid}")
    finally:
        d.remove_all()
        d.api("DELETE", "/networks/gone")


def our_veths_on(bridge_name: str) -> set[str]:
    out = subprocess.run(["ip", "-o", "link", "show", "master", bridge_name],
                         capture_output=True, text=True).stdout  # fmt: skip
    return {line.split(":")[1].strip().split("@")[0] for line in out.splitlines()}
