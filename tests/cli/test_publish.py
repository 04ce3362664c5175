"""``-p``, ``-P``, ``--network`` and friends as create body fields."""

import pytest

from pouch.cli.createopts import CreateOptions, FlagError, build_create_body


def body(**options: object) -> dict:  # type: ignore[type-arg]
    return build_create_body(CreateOptions(image="busybox", **options))  # type: ignore[arg-type]


def test_publish_forms() -> None:
    made = body(publish=("80", "8080:80", "127.0.0.1:9090:90/udp", "127.0.0.1::91"))
    assert made["HostConfig"]["PortBindings"] == {
        "80/tcp": [{"HostIp": "", "HostPort": ""}, {"HostIp": "", "HostPort": "8080"}],
        "90/udp": [{"HostIp": "127.0.0.1", "HostPort": "9090"}],
        "91/tcp": [{"HostIp": "127.0.0.1", "HostPort": ""}],
    }
    assert set(made["ExposedPorts"]) == {"80/tcp", "90/udp", "91/tcp"}
    assert "PublishAllPorts" not in made["HostConfig"]
    assert body(publish_all=True)["HostConfig"]["PublishAllPorts"] is True


@pytest.mark.parametrize("bad", ["http", "80/sctp", "1:2:3:4", "x:80"])
def test_bad_publish_names_the_flag(bad: str) -> None:
    with pytest.raises(FlagError, match="--publish"):
        body(publish=(bad,))


def test_networks_ip_alias_and_mac() -> None:
    made = body(network=("blue", "green"), ip="10.0.0.9", network_alias=("db",),
                mac_address="02:42:00:00:00:01")  # fmt: skip
    assert made["HostConfig"]["NetworkMode"] == "blue"
    assert made["MacAddress"] == "02:42:00:00:00:01"
    assert made["NetworkingConfig"]["EndpointsConfig"] == {
        "blue": {"IPAMConfig": {"IPv4Address": "10.0.0.9"}, "Aliases": ["db"]},
        "green": {},
    }
    with pytest.raises(FlagError, match="--ip"):
        body(ip="10.0.0.9")
