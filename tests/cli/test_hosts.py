import pytest

from pouch.client.hosts import DEFAULT_HOST, Host, parse_host, resolve_host


def test_default_host_when_nothing_is_set(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("POUCH_HOST", raising=False)
    assert resolve_host(None).url == DEFAULT_HOST == "unix:///var/run/pouchd.sock"


def test_environment_is_used_when_no_flag(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("POUCH_HOST", "unix:///tmp/x.sock")
    assert resolve_host(None) == Host("unix", path="/tmp/x.sock")


def test_flag_beats_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("POUCH_HOST", "unix:///tmp/x.sock")
    assert resolve_host("unix:///tmp/y.sock").path == "/tmp/y.sock"


@pytest.mark.parametrize(
    ("raw", "host"),
    [
        ("tcp://127.0.0.1:2375", Host("tcp", hostname="127.0.0.1", port=2375)),
        ("http://localhost:8080/", Host("tcp", hostname="localhost", port=8080)),
        ("tcp://[::1]:9000", Host("tcp", hostname="::1", port=9000)),
        ("tcp://example", Host("tcp", hostname="example", port=2375)),
        ("/run/p.sock", Host("unix", path="/run/p.sock")),
    ],
)
def test_parse_host_forms(raw: str, host: Host) -> None:
    assert parse_host(raw) == host


@pytest.mark.parametrize("raw", ["ftp://x", "unix://relative.sock", "tcp://h:port"])
def test_parse_host_rejects_other_forms(raw: str) -> None:
    with pytest.raises(ValueError, match="invalid host"):
        parse_host(raw)
