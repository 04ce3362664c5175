"""The network tables on their own: no kernel, only a database file."""

from ipaddress import IPv4Address
from pathlib import Path

import pytest

from pouch.network.errors import AddressInUse, NetworkExists, PoolExhausted
from pouch.network.models import Network, NetworkDriver
from pouch.network.state import EndpointRequest, NetworkState

NET = Network(
    id="n" * 64,
    name="tiny",
    driver=NetworkDriver.BRIDGE,
    bridge="ptx",
    subnet="10.199.20.0/29",
    gateway="10.199.20.1",
)


def request(container_id: str) -> EndpointRequest:
    return EndpointRequest(
        id=f"ep-{container_id}",
        container_id=container_id,
        priority=0,
        disable_resolver=False,
        generic_params={},
        aliases=[],
        mac=None,
        host_veth=f"veth-{container_id}",
    )


def test_two_connections_never_share_an_address(tmp_path: Path) -> None:
    one, two = NetworkState(tmp_path / "db"), NetworkState(tmp_path / "db")
    one.add_network(NET)

    got = [
        (one if i % 2 else two).add_endpoint(NET, request(f"c{i}"), None).ip
        for i in range(5)
    ]
    assert got == [f"10.199.20.{n}" for n in range(2, 7)]
    with pytest.raises(PoolExhausted):
        one.add_endpoint(NET, request("c9"), None)
    with pytest.raises(AddressInUse):
        two.add_endpoint(NET, request("c9"), IPv4Address("10.199.20.3"))

    # A failed allocation records nothing.
    assert one.endpoints("c9") == []
    assert len(two.allocations(NET.id)) == 5
    one.close()
    two.close()


def test_removal_frees_addresses_and_survives_reopening(tmp_path: Path) -> None:
    state = NetworkState(tmp_path / "db")
    state.add_network(NET)
    state.add_endpoint(NET, request("a"), None)
    state.add_endpoint(NET, request("b"), None)
    (removed,) = state.remove_endpoints("a")
    assert removed.ip == "10.199.20.2"
    assert state.remove_endpoints("a") == []
    state.close()

    state = NetworkState(tmp_path / "db")
    assert state.allocations(NET.id) == {"10.199.20.3"}
    # Rotation carries over the reopening: .4 next, not the freed .2.
    assert state.add_endpoint(NET, request("c"), None).ip == "10.199.20.4"
    with pytest.raises(NetworkExists):
        state.add_network(NET)
    state.close()
