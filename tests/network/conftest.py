"""Fixtures for the network tests: namespaces with a process in them, controllers on
test bridges, and a leak check that every test leaves the host as it found it.

Test bridges are named ``pt*`` and test subnets lie in 10.199.0.0/16, which nothing
else on the host uses; only interfaces and rules made here are touched.
"""

import asyncio
import json
import os
import signal
import subprocess
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

from pouch.network import links, nat
from pouch.network.controller import NetworkController

TEST_BRIDGE = "pt0"
TEST_BIP = "10.199.10.1/24"
TEST_PREFIX = "10.199."


def require_root() -> None:
    if os.geteuid() != 0:
        pytest.skip("network integration tests need root")


def host_links() -> set[tuple[str, str]]:
    """(name, kind) of the veths and bridges these tests could have made: test
    bridges (``pt*``), veths on them, and veths on no bridge at all (a leaked one
    whose bridge is gone). Other daemons on the host keep theirs on their own
    bridges, so a suite running beside this one is not counted."""
    out = subprocess.run(
        ["ip", "-j", "-d", "link", "show"], capture_output=True, text=True, check=True
    ).stdout
    found = set()
    for link in json.loads(out):
        kind = link.get("linkinfo", {}).get("info_kind", "")
        master = link.get("master", "")
        if kind == "bridge" and link["ifname"].startswith("pt"):
            found.add((link["ifname"], kind))
        elif kind == "veth" and (not master or master.startswith("pt")):
            found.add((link["ifname"], kind))
    return found


def our_rules() -> list[str]:
    """Every iptables rule, in any table, that mentions a test bridge or subnet."""
    rules = []
    for table in ("nat", "filter"):
        out = subprocess.run(
            ["iptables", "-w", "-t", table, "-S"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        rules += [
            f"{table}: {r}"
            for r in out.splitlines()
            if TEST_PREFIX in r or " pt" in r.replace("!", "")
        ]
    return rules


def chains_present() -> bool:
    return asyncio.run(nat.chain_exists("nat", nat.NAT_CHAIN))


@pytest.fixture
def leak_check() -> Iterator[None]:
    require_root()
    links_before = host_links()
    chains_before = chains_present()
    yield
    new_links = host_links() - links_before
    assert not new_links, f"interfaces left behind: {sorted(new_links)}"
    assert not our_rules(), f"iptables rules left behind: {our_rules()}"
    if not chains_before:
        # Our chains were made by this test; once empty they go too.
        remaining = asyncio.run(nat.list_rules())
        assert not remaining, f"rules left in our chains: {remaining}"
        asyncio.run(nat.remove_chains())


class Sandbox:
    """A process in a network namespace of its own, standing in for a container."""

    def __init__(self) -> None:
        self.proc = subprocess.Popen(["unshare", "--net", "sleep", "600"])
        self.pid = self.proc.pid
        self._wait_for_own_netns()

    def _wait_for_own_netns(self) -> None:
        host = os.stat("/proc/self/ns/net").st_ino
        for _ in range(200):
            if os.stat(f"/proc/{self.pid}/ns/net").st_ino != host:
                return
            subprocess.run(["sleep", "0.01"])
        raise RuntimeError("unshare did not enter a new network namespace")

    def ip(self, *args: str) -> Any:
        """``ip -j`` inside the namespace, decoded."""
        out = subprocess.run(
            ["nsenter", "-t", str(self.pid), "-n", "ip", "-j", *args],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        return json.loads(out) if out.strip() else []

    def sh(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["nsenter", "-t", str(self.pid), "-n", *args],
            capture_output=True,
            text=True,
        )

    def addresses(self, ifname: str) -> list[str]:
        return [
            f"{a['local']}/{a['prefixlen']}"
            for link in self.ip("-4", "addr", "show", "dev", ifname)
            for a in link["addr_info"]
        ]

    def default_route(self) -> dict[str, Any]:
        routes = self.ip("-4", "route", "show", "default")
        assert len(routes) == 1, routes
        return dict(routes[0])

    def stop(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()


MakeSandbox = Callable[[], Sandbox]


@pytest.fixture
def sandboxes() -> Iterator[MakeSandbox]:
    made: list[Sandbox] = []

    def make() -> Sandbox:
        made.append(Sandbox())
        return made[-1]

    yield make
    for sandbox in made:
        sandbox.stop()


@asynccontextmanager
async def running_controller(
    tmp_path: Path,
    *,
    bridge_name: str = TEST_BRIDGE,
    bip: str = TEST_BIP,
    controller_id: str = "pouch-test",
    teardown: bool = True,
) -> AsyncIterator[NetworkController]:
    """A started controller on a test bridge; on exit, everything it made is removed
    unless ``teardown`` is false (for tests that hand over to a second instance)."""
    controller = NetworkController(
        tmp_path / "pouchd.db",
        bridge_name=bridge_name,
        bip=bip,
        home_dir=tmp_path,
        controller_id=controller_id,
    )
    try:
        await controller.start()
        yield controller
    finally:
        if teardown:
            await dismantle(controller)
        await controller.close()


async def dismantle(controller: NetworkController) -> None:
    """Remove what a controller made: endpoints, user networks, the default bridge."""
    for network in controller.list_networks():
        for endpoint in controller.network_endpoints(network.id):
            await controller.release(endpoint.container_id)
    for network in controller.list_networks():
        if network.name not in ("bridge", "host", "none"):
            await controller.remove_network(network.id)
    default = controller.get_network("bridge")
    assert default.bridge and default.subnet
    await nat.remove_bridge_rules(default.bridge, default.subnet, default.internal)
    await links.delete_link(default.bridge)
