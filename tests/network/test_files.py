from pathlib import Path

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
