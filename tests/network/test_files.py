from pathlib import Path

import pytest

from pouch.network import files

HOST_RESOLV = """\
# generated
nameserver 127.0.0.53
nameserver 10.255.255.53
nameserver ::1
nameserver fd00::53
search example.org
options edns0
"""


def test_resolv_drops_loopback_nameservers_only() -> None:
    text = files.container_resolv(HOST_RESOLV)
    assert "127.0.0.53" not in text
    assert "nameserver ::1" not in text
    assert "nameserver 10.255.255.53" in text
    assert "nameserver fd00::53" in text
    assert "search example.org" in text
    assert "options edns0" in text


def test_resolv_invents_no_nameserver() -> None:
    text = files.container_resolv("nameserver 127.0.0.1\n")
    assert not files.has_nameserver(text)
    assert "8.8.8.8" not in text


def test_hosts_has_localhost_and_the_container() -> None:
    text = files.container_hosts("web", "10.0.0.2")
    assert text.startswith("127.0.0.1\tlocalhost\n")
    assert "10.0.0.2\tweb\n" in text


def test_write_files_by_mode(tmp_path: Path) -> None:
    host = tmp_path / "host-resolv.conf"
    host.write_text(HOST_RESOLV)

    paths = files.write_files(tmp_path / "b", "web", "bridge", "10.0.0.2", host)
    assert set(paths) == {"resolv.conf", "hosts", "hostname"}
    assert paths["hostname"].read_text() == "web\n"
    assert "10.0.0.2\tweb" in paths["hosts"].read_text()
    assert "127.0.0.53" not in paths["resolv.conf"].read_text()

    paths = files.write_files(tmp_path / "h", "web", "host", None, host)
    assert paths["resolv.conf"].read_text() == HOST_RESOLV

    paths = files.write_files(tmp_path / "n", "web", "none", "10.0.0.2", host)
    assert "10.0.0.2" not in paths["hosts"].read_text()


def test_asked_dns_replaces_each_part_of_the_hosts() -> None:
    asked = files.file_options(["10.1.1.1"], None, ["ndots:2"], None)
    text = files.resolv_conf(HOST_RESOLV, "bridge", None, asked)
    assert text == (
        "search example.org\nnameserver 10.1.1.1\noptions ndots:2\n"
    )  # fmt: skip
    only_search = files.file_options(None, ["."], None, None)
    text = files.resolv_conf(HOST_RESOLV, "bridge", None, only_search)
    assert text == "nameserver 10.255.255.53\nnameserver fd00::53\noptions edns0\n"


def test_embedded_resolver_keeps_its_address_with_asked_dns() -> None:
    asked = files.file_options(["10.1.1.1"], ["a.test"], None, None)
    text = files.resolv_conf(HOST_RESOLV, "bridge", "127.0.0.11", asked)
    assert text == "search a.test\nnameserver 127.0.0.11\noptions edns0\n"
    servers_only = files.file_options(["10.1.1.1"], None, None, None)
    text = files.resolv_conf(HOST_RESOLV, "bridge", "127.0.0.11", servers_only)
    assert text.splitlines()[0] == "nameserver 127.0.0.11"
    assert "10.1.1.1" not in text


def test_extra_hosts_parse_and_refuse() -> None:
    assert files.parse_extra_host("db:10.0.0.9") == ("db", "10.0.0.9")
    assert files.parse_extra_host("v6:::1") == ("v6", "::1")
    assert files.parse_extra_host("v6:[fd00::1]") == ("v6", "fd00::1")
    assert files.parse_extra_host("gw:host-gateway") == ("gw", "host-gateway")
    for bad in ("nocolon", ":10.0.0.1", "a b:10.0.0.1", "x:300.0.0.1", "x:"):
        with pytest.raises(files.FileOptionError):
            files.parse_extra_host(bad)
    text = files.container_hosts("web", "10.0.0.2", (("db", "10.0.0.9"),))
    assert text.endswith("10.0.0.2\tweb\n10.0.0.9\tdb\n")
