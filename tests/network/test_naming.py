"""Interface names and address ranges: pure rules."""

from ipaddress import IPv4Address, IPv4Network

import pytest

from pouch.network.controller import name_interfaces
from pouch.network.errors import InvalidAddress, PoolExhausted
from pouch.network.ipam import AddressPool, check_range
from pouch.network.models import Endpoint


def endpoint(
    seq: int, priority: int, ifname: str | None = None, **params: str
) -> Endpoint:
    return Endpoint(
        id=f"e{seq}", network_id="n", network_name="n", container_id="c",
        ip="10.0.0.2", prefix_len=24, gateway="10.0.0.1", mac=None,
        priority=priority, disable_resolver=False, generic_params=dict(params),
        aliases=[], ifname=ifname, host_veth=f"veth{seq}", seq=seq,
        plugged=ifname is not None,
    )  # fmt: skip


def test_names_follow_priority_then_creation() -> None:
    named = name_interfaces([endpoint(1, 0), endpoint(2, 10), endpoint(3, 0)])
    assert [(e.id, e.ifname) for e in named] == [
        ("e2", "eth0"), ("e1", "eth1"), ("e3", "eth2")
    ]  # fmt: skip


def test_a_later_endpoint_takes_the_next_free_name() -> None:
    named = name_interfaces([endpoint(1, 0, "eth1"), endpoint(2, 99)])
    assert {e.id: e.ifname for e in named} == {"e1": "eth1", "e2": "eth0"}


def test_prefix_from_generic_params() -> None:
    key = "com.pouch.network.endpoint.ifname_prefix"
    named = name_interfaces([endpoint(1, 0, **{key: "net"}), endpoint(2, 0)])
    assert [e.ifname for e in named] == ["net0", "eth0"]
    with pytest.raises(InvalidAddress):
        name_interfaces([endpoint(1, 0, **{key: "a-prefix-far-too-long"})])


def test_ip_range_bounds_what_is_handed_out() -> None:
    subnet = IPv4Network("10.0.0.0/24")
    pool = AddressPool(subnet, IPv4Address("10.0.0.1"), [], None,
                       IPv4Network("10.0.0.252/30"))  # fmt: skip
    # .255 is the subnet's broadcast address: three are left in the range.
    got = [pool.request() for _ in range(3)]
    assert got == [IPv4Address(f"10.0.0.{n}") for n in (252, 253, 254)]
    with pytest.raises(PoolExhausted):
        pool.request()
    # An address asked for may lie outside the range, inside the subnet.
    assert pool.request(IPv4Address("10.0.0.9")) == IPv4Address("10.0.0.9")


def test_range_must_lie_in_the_subnet() -> None:
    with pytest.raises(InvalidAddress, match="not within subnet"):
        check_range(IPv4Network("10.0.0.0/24"), IPv4Network("10.0.1.0/28"))


def test_exhausted_range() -> None:
    pool = AddressPool(IPv4Network("10.0.0.0/24"), None, [], None,
                       IPv4Network("10.0.0.8/31"))  # fmt: skip
    pool.request()
    pool.request()
    with pytest.raises(PoolExhausted):
        pool.request()
