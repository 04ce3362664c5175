"""The controller against the real kernel: a test bridge, processes in namespaces of
their own, and a database in a temporary directory."""

import asyncio
import subprocess
from pathlib import Path

import pytest

from pouch.network import links, nat
from pouch.network.errors import (
    AddressInUse,
    EndpointExists,
    InvalidAddress,
    NetworkError,
    NetworkExists,
    NetworkInUse,
    NetworkNotFound,
    SandboxError,
    SubnetOverlap,
)
from pouch.network.models import NetworkDriver

from .conftest import TEST_BRIDGE, MakeSandbox, running_controller

pytestmark = pytest.mark.usefixtures("leak_check")


def ping(address: str) -> bool:
    result = subprocess.run(
        ["busybox", "ping", "-c1", "-W2", address], capture_output=True, text=True
    )
    return result.returncode == 0


def test_start_makes_the_predefined_networks(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with running_controller(tmp_path) as ctl:
            names = {n.name: n for n in ctl.list_networks()}
            assert set(names) == {"bridge", "host", "none"}
            bridge = names["bridge"]
            assert bridge.driver is NetworkDriver.BRIDGE
            assert (bridge.bridge, bridge.subnet) == (TEST_BRIDGE, "10.199.10.0/24")
            assert bridge.gateway == "10.199.10.1"
            assert names["host"].driver is NetworkDriver.HOST
            assert names["none"].driver is NetworkDriver.NULL

            assert ctl.get_network(bridge.id[:10]) == bridge
            with pytest.raises(NetworkNotFound, match="network nope not found"):
                ctl.get_network("nope")

            assert await links.link_exists(TEST_BRIDGE)

            async def own_rules() -> list[str]:
                # Only this bridge's: other daemons on the host change theirs.
                return [
                    r for r in await nat.list_rules()
                    if TEST_BRIDGE in r.split() or "10.199.10." in r
                ]  # fmt: skip

            rules = await own_rules()
            masquerade = (
                f"-t nat -A {nat.NAT_CHAIN} -s 10.199.10.0/24 ! -o {TEST_BRIDGE} "
                "-j MASQUERADE"
            )
            assert masquerade in rules
            assert Path("/proc/sys/net/ipv4/ip_forward").read_text().strip() == "1"

            # A second start adds nothing twice.
            await ctl.start()
            assert await own_rules() == rules
            assert len(ctl.list_networks()) == 3

    asyncio.run(scenario())


def test_join_wires_the_namespace(tmp_path: Path, sandboxes: MakeSandbox) -> None:
    box = sandboxes()

    async def scenario() -> None:
        async with running_controller(tmp_path) as ctl:
            ep = await ctl.create_endpoint("c1", "bridge", generic_params={"x": "y"})
            assert (ep.ip, ep.prefix_len, ep.gateway) == (
                "10.199.10.2",
                24,
                "10.199.10.1",
            )
            assert ep.mac == "02:42:0a:c7:0a:02"
            assert ep.ifname == "eth0"
            assert ep.generic_params == {"x": "y"}
            assert ep.host_veth and not await links.link_exists(ep.host_veth)

            await ctl.join("c1", box.pid)

            assert box.addresses("eth0") == ["10.199.10.2/24"]
            (eth0,) = box.ip("link", "show", "dev", "eth0")
            assert eth0["address"] == ep.mac
            assert "UP" in eth0["flags"]
            (lo,) = box.ip("link", "show", "dev", "lo")
            assert "UP" in lo["flags"]
            route = box.default_route()
            assert (route["gateway"], route["dev"]) == ("10.199.10.1", "eth0")
            assert ping("10.199.10.2")

            await ctl.release("c1")
            assert not await links.link_exists(ep.host_veth)
            assert box.ip("link", "show", "type", "veth") == []
            assert ctl.endpoints("c1") == []
            assert ctl.network_endpoints("bridge") == []
            await ctl.release("c1")  # idempotent

    asyncio.run(scenario())


def test_default_route_follows_priority(tmp_path: Path, sandboxes: MakeSandbox) -> None:
    box = sandboxes()

    async def scenario() -> None:
        async with running_controller(tmp_path) as ctl:
            await ctl.create_network("back", "10.199.11.0/24", None, "pt1")
            low = await ctl.create_endpoint("c1", "bridge", priority=1)
            high = await ctl.create_endpoint("c1", "back", priority=10)
            assert high.ip == "10.199.11.2"

            ordered = ctl.endpoints("c1")
            assert [(e.id, e.ifname) for e in ordered] == [
                (high.id, "eth0"),
                (low.id, "eth1"),
            ]

            await ctl.join("c1", box.pid)
            assert box.addresses("eth0") == ["10.199.11.2/24"]
            assert box.addresses("eth1") == ["10.199.10.2/24"]
            route = box.default_route()
            assert (route["gateway"], route["dev"]) == ("10.199.11.1", "eth0")
            assert ping("10.199.11.2") and ping("10.199.10.2")

            with pytest.raises(NetworkInUse, match="has active endpoints"):
                await ctl.remove_network("back")
            await ctl.release("c1")

    asyncio.run(scenario())


def test_priority_ties_go_to_the_first_created(
    tmp_path: Path, sandboxes: MakeSandbox
) -> None:
    box = sandboxes()

    async def scenario() -> None:
        async with running_controller(tmp_path) as ctl:
            await ctl.create_network("back", "10.199.11.0/24", "10.199.11.254", "pt1")
            await ctl.create_endpoint("c1", "back")
            await ctl.create_endpoint("c1", "bridge")
            await ctl.join("c1", box.pid)
            route = box.default_route()
            assert (route["gateway"], route["dev"]) == ("10.199.11.254", "eth0")

    asyncio.run(scenario())


def test_endpoint_options(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with running_controller(tmp_path) as ctl:
            params = {"com.docker.network.endpoint.macaddress": "02:AA:BB:CC:DD:EE"}
            ep = await ctl.create_endpoint("c1", "bridge", generic_params=params)
            assert ep.mac == "02:aa:bb:cc:dd:ee"
            assert ep.generic_params == params

            ep = await ctl.create_endpoint(
                "c2",
                "bridge",
                ip="10.199.10.77",
                generic_params={"MacAddress": "02:00:00:00:00:09"},
            )
            assert (ep.ip, ep.mac) == ("10.199.10.77", "02:00:00:00:00:09")
            with pytest.raises(AddressInUse, match="10.199.10.77 is already in use"):
                await ctl.create_endpoint("c3", "bridge", ip="10.199.10.77")
            with pytest.raises(EndpointExists, match="container c2 already has"):
                await ctl.create_endpoint("c2", "bridge")

            host = await ctl.create_endpoint("c4", "host", aliases=["a"])
            assert (host.ip, host.ifname, host.host_veth) == (None, None, None)
            assert host.aliases == ["a"]

            for container in ("c1", "c2", "c4"):
                await ctl.release(container)

    asyncio.run(scenario())


def test_network_rules(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with running_controller(tmp_path) as ctl:
            with pytest.raises(SubnetOverlap):
                await ctl.create_network("x", "10.199.10.128/25", None, "pt1")
            with pytest.raises(NetworkExists, match="name bridge already exists"):
                await ctl.create_network("bridge", "10.199.11.0/24", None, "pt1")
            with pytest.raises(NetworkInUse, match="predefined"):
                await ctl.remove_network("bridge")
            with pytest.raises(NetworkInUse, match="bridge pt0 is already used"):
                await ctl.create_network("x", "10.199.11.0/24", None, "pt0")
            # An interface that is not ours is refused, and survives the refusal.
            with pytest.raises(NetworkInUse, match="interface lo already exists"):
                await ctl.create_network("x", "10.199.11.0/24", None, "lo")
            assert await links.link_exists("lo")
            # The kernel's rule for interface names, checked before anything is made.
            for bad in ("pt:1", "pt 1", "pt/1", "..", "pt" + "x" * 14, "ptéééééééé"):
                with pytest.raises(InvalidAddress, match="invalid interface name"):
                    await ctl.create_network("x", "10.199.11.0/24", None, bad)
            with pytest.raises(InvalidAddress, match="too small for a network"):
                await ctl.create_network("x", "10.199.11.0/32", None, "pt1")
            assert [n.name for n in ctl.list_networks()] == ["none", "host", "bridge"]

            net = await ctl.create_network("inner", "10.199.12.0/24", None, "pt2", True)
            assert net.internal and await links.link_exists("pt2")
            rules = await nat.list_rules()
            assert not any("10.199.12.0/24" in r for r in rules)  # no NAT
            assert any("-i pt2 ! -o pt2 -j DROP" in r for r in rules)

            await ctl.remove_network("inner")
            assert not await links.link_exists("pt2")
            assert not any("pt2" in r for r in await nat.list_rules())
            with pytest.raises(NetworkNotFound):
                ctl.get_network("inner")

    asyncio.run(scenario())


def test_failed_join_leaves_no_veth(tmp_path: Path, sandboxes: MakeSandbox) -> None:
    box = sandboxes()
    # An eth1 already in the namespace makes the second pair fail.
    box.sh("ip", "link", "add", "eth1", "type", "bridge").check_returncode()

    async def scenario() -> None:
        async with running_controller(tmp_path) as ctl:
            await ctl.create_network("back", "10.199.11.0/24", None, "pt1")
            first = await ctl.create_endpoint("c1", "bridge")
            second = await ctl.create_endpoint("c1", "back")
            with pytest.raises(SandboxError):
                await ctl.join("c1", box.pid)
            for ep in (first, second):
                assert ep.host_veth and not await links.link_exists(ep.host_veth)
            assert box.ip("link", "show", "type", "veth") == []

            with pytest.raises(SandboxError, match="pid 999999999"):
                await ctl.join("c1", 999999999)

    asyncio.run(scenario())


def test_release_after_the_namespace_died(
    tmp_path: Path, sandboxes: MakeSandbox
) -> None:
    box = sandboxes()

    async def scenario() -> None:
        async with running_controller(tmp_path) as ctl:
            ep = await ctl.create_endpoint("c1", "bridge")
            await ctl.join("c1", box.pid)
            box.stop()
            # The veth dies with the namespace, asynchronously in the kernel.
            for _ in range(100):
                if not await links.link_exists(ep.host_veth or ""):
                    break
                await asyncio.sleep(0.05)
            await ctl.release("c1")
            assert ctl.endpoints("c1") == []

    asyncio.run(scenario())


def test_restart_readopts_allocations(tmp_path: Path, sandboxes: MakeSandbox) -> None:
    box = sandboxes()

    async def scenario() -> None:
        async with running_controller(tmp_path, teardown=False) as first:
            a = await first.create_endpoint("c1", "bridge")
            b = await first.create_endpoint("c2", "bridge")
            await first.join("c1", box.pid)

        async with running_controller(tmp_path) as second:
            assert [e.ip for e in second.endpoints("c1")] == [a.ip]
            assert ping(a.ip or "")  # the running container kept its network
            with pytest.raises(AddressInUse):
                await second.create_endpoint("c3", "bridge", ip=b.ip)
            c = await second.create_endpoint("c3", "bridge")
            assert c.ip not in (a.ip, b.ip)
            assert c.ip == "10.199.10.4"

            # A freed address is not handed out again at once.
            await second.release("c2")
            d = await second.create_endpoint("c4", "bridge")
            assert d.ip == "10.199.10.5"

    asyncio.run(scenario())


def test_default_bridge_config_change_is_refused(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with running_controller(tmp_path):
            pass
        with pytest.raises(NetworkError, match="configured for pt0 10.199.13.1/24"):
            async with running_controller(tmp_path, bip="10.199.13.1/24"):
                pass

    asyncio.run(scenario())


def test_container_files(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with running_controller(tmp_path) as ctl:
            ep = await ctl.create_endpoint("c1", "bridge")
            paths = ctl.write_container_files("c1", tmp_path / "c1", "web", "bridge")
            assert f"{ep.ip}\tweb" in paths["hosts"].read_text()
            assert paths["hostname"].read_text() == "web\n"
            host = ctl.write_container_files("c1", tmp_path / "h", "web", "host")
            assert (
                host["resolv.conf"].read_text() == Path("/etc/resolv.conf").read_text()
            )
            with pytest.raises(NetworkError, match="mode 'container:x' has no files"):
                ctl.write_container_files("c1", tmp_path / "x", "web", "container:x")
            await ctl.release("c1")

    asyncio.run(scenario())
