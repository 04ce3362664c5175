from ipaddress import IPv4Address, IPv4Network

import pytest

from pouch.network import ipam
from pouch.network.errors import (
    AddressInUse,
    InvalidAddress,
    PoolExhausted,
    SubnetOverlap,
)

SUBNET = IPv4Network("10.0.0.0/29")  # hosts .1 to .6
GATEWAY = IPv4Address("10.0.0.1")


def addr(last_byte: int) -> IPv4Address:
    return IPv4Address(f"10.0.0.{last_byte}")


def test_first_address_skips_network_and_gateway() -> None:
    pool = ipam.AddressPool(SUBNET, GATEWAY)
    assert pool.request() == addr(2)


def test_addresses_rotate_after_the_last_one_handed_out() -> None:
    pool = ipam.AddressPool(SUBNET, GATEWAY, in_use=[addr(2)], last=addr(4))
    assert pool.request() == addr(5)
    assert pool.request() == addr(6)
    # Past the end the pool wraps, skipping broadcast, network, gateway and .2.
    assert pool.request() == addr(3)


def test_released_address_is_not_reused_at_once() -> None:
    pool = ipam.AddressPool(SUBNET, GATEWAY)
    first = pool.request()
    pool.release(first)
    assert pool.request() == addr(3)


def test_never_hands_out_an_address_in_use() -> None:
    in_use = [addr(2), addr(3), addr(5)]
    pool = ipam.AddressPool(SUBNET, GATEWAY, in_use=in_use, last=addr(6))
    assert pool.request() == addr(4)
    assert pool.request() == addr(6)
    with pytest.raises(PoolExhausted, match="10.0.0.0/29"):
        pool.request()


def test_requested_address() -> None:
    pool = ipam.AddressPool(SUBNET, GATEWAY, in_use=[addr(3)])
    assert pool.request(addr(5)) == addr(5)
    with pytest.raises(AddressInUse, match="10.0.0.3 is already in use"):
        pool.request(addr(3))
    with pytest.raises(AddressInUse):
        pool.request(GATEWAY)
    with pytest.raises(AddressInUse):
        pool.request(addr(7))  # broadcast
    with pytest.raises(InvalidAddress, match="not in subnet"):
        pool.request(IPv4Address("10.0.1.5"))


def test_point_to_point_subnet_has_no_reserved_addresses() -> None:
    pool = ipam.AddressPool(IPv4Network("10.0.0.0/31"), IPv4Address("10.0.0.0"))
    assert pool.request() == IPv4Address("10.0.0.1")


def test_mac_is_derived_from_the_address() -> None:
    assert ipam.mac_for(IPv4Address("192.168.5.2")) == "02:42:c0:a8:05:02"


@pytest.mark.parametrize("mac", ["02:42:AC:11:00:02", "02-42-ac-11-00-02"])
def test_parse_mac_normalises(mac: str) -> None:
    assert ipam.parse_mac(mac) == "02:42:ac:11:00:02"


@pytest.mark.parametrize(
    "mac", ["02:42:ac:11:00", "zz:42:ac:11:00:02", "01:00:5e:00:00:01"]
)
def test_parse_mac_refuses(mac: str) -> None:
    with pytest.raises(InvalidAddress, match="invalid MAC address"):
        ipam.parse_mac(mac)


def test_subnet_and_gateway_checks() -> None:
    with pytest.raises(InvalidAddress, match="invalid subnet"):
        ipam.parse_subnet("10.0.0.1/24")
    with pytest.raises(InvalidAddress, match="prefix length"):
        ipam.parse_interface("10.0.0.1")
    assert ipam.default_gateway(IPv4Network("10.1.0.0/16")) == IPv4Address("10.1.0.1")
    with pytest.raises(InvalidAddress, match="not a usable address"):
        ipam.check_gateway(SUBNET, addr(7))
    with pytest.raises(SubnetOverlap, match="overlaps"):
        ipam.check_no_overlap(IPv4Network("10.0.0.0/16"), [SUBNET])
    ipam.check_no_overlap(IPv4Network("10.1.0.0/16"), [SUBNET])


def test_is_loopback() -> None:
    assert ipam.is_loopback("127.0.0.53")
    assert ipam.is_loopback("::1")
    assert not ipam.is_loopback("10.255.255.53")
    assert not ipam.is_loopback("not-an-address")


def test_a_subnet_holds_a_gateway_and_a_container() -> None:
    with pytest.raises(InvalidAddress, match="too small for a network"):
        ipam.check_room(IPv4Network("10.0.0.0/32"))
    ipam.check_room(IPv4Network("10.0.0.0/31"))
    assert ipam.default_gateway(IPv4Network("10.0.0.0/31")) == IPv4Address("10.0.0.0")
    assert ipam.default_gateway(IPv4Network("10.0.0.4/32")) == IPv4Address("10.0.0.4")
