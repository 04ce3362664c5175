"""Pure parts of the registry layer: references on the wire, credentials,
endpoints, layer entry checks, progress messages."""

from __future__ import annotations

import base64
import json
import tarfile
from pathlib import Path

import pytest

from pouch.ctrd.layercheck import check_entry
from pouch.mgr.imagefiles import apply_changes
from pouch.registry import auth, progress
from pouch.registry.config import DOCKER_HUB_ENDPOINT, RegistryConfig
from pouch.registry.pull import Target

DIGEST = "sha256:" + "b" * 64


@pytest.mark.parametrize(
    ("name", "domain", "path", "ref"),
    [
        ("busybox", "docker.io", "library/busybox", "latest"),
        ("foo/bar:1", "docker.io", "foo/bar", "1"),
        ("localhost:5000/a/b:v2", "localhost:5000", "a/b", "v2"),
        (f"127.0.0.1:5000/x@{DIGEST}", "127.0.0.1:5000", "x", DIGEST),
        (f"x:1@{DIGEST}", "docker.io", "library/x", DIGEST),
    ],
)
def test_target(name: str, domain: str, path: str, ref: str) -> None:
    t = Target.parse(name)
    assert (t.domain, t.path, t.ref) == (domain, path, ref)


def test_registry_auth_header_round_trip() -> None:
    creds = auth.Credentials("u", "p:w")
    header = auth.encode_header(creds, "localhost:5000")
    assert auth.decode_header(header) == creds
    assert auth.decode_header(header.rstrip("=")) == creds  # docker strips padding
    assert auth.decode_header("e30=") is None  # {} from an anonymous docker CLI
    assert auth.decode_header(None) is None
    with pytest.raises(ValueError, match="X-Registry-Auth"):
        auth.decode_header("%%%")


def test_docker_config_json(tmp_path: Path) -> None:
    path = tmp_path / "config.json"
    path.write_text(json.dumps({"auths": {}, "credsStore": "keep-me"}))
    auth.store_credentials("docker.io", auth.Credentials("a", "b"), path)
    auth.store_credentials("reg:5000", auth.Credentials("c", "d"), path)
    doc = json.loads(path.read_text())
    assert doc["credsStore"] == "keep-me"
    assert (
        base64.b64decode(doc["auths"]["https://index.docker.io/v1/"]["auth"]) == b"a:b"
    )
    assert auth.load_credentials("reg:5000", path) == auth.Credentials("c", "d")
    assert path.stat().st_mode & 0o077 == 0
    assert auth.remove_credentials("reg:5000", path)
    assert auth.load_credentials("reg:5000", path) is None


def test_challenges() -> None:
    c = auth.parse_challenge(
        'Bearer realm="https://auth.example/token",service="reg",scope="repository:a:pull"'
    )
    assert c is not None and c.scheme == "bearer"
    assert c.params == {
        "realm": "https://auth.example/token",
        "service": "reg",
        "scope": "repository:a:pull",
    }
    assert auth.parse_challenge('Basic realm="x"') == auth.Challenge(
        "basic", {"realm": "x"}
    )


def test_endpoints(tmp_path: Path) -> None:
    config = RegistryConfig(
        mirrors=["http://127.0.0.1:5001/"],
        insecure=["reg.local:5000", "10.0.0.0/8"],
        certs_dir=tmp_path,
    )
    hub = config.endpoints("docker.io")
    assert [(e.url, e.mirror) for e in hub] == [
        ("http://127.0.0.1:5001", True),
        (DOCKER_HUB_ENDPOINT, False),
    ]
    assert [e.url for e in config.endpoints("reg.local:5000")] == [
        "https://reg.local:5000",
        "http://reg.local:5000",
    ]
    assert config.is_insecure("10.1.2.3:443")
    assert config.is_insecure("127.0.0.1:5000")  # loopback, as Docker
    assert not config.is_insecure("localhost:5000")
    secure = config.endpoints("registry.example.com")
    assert [e.url for e in secure] == ["https://registry.example.com"]
    assert secure[0].tls is not False


def _info(name: str, kind: bytes = tarfile.REGTYPE, link: str = "") -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type, info.linkname = kind, link
    return info


def test_layer_entries() -> None:
    links: set[str] = set()
    assert check_entry(_info("./usr/bin/x"), links) is None
    assert check_entry(_info("a/../b"), links) is None
    assert check_entry(_info("bin/sh", tarfile.SYMTYPE, "/bin/busybox"), links) is None
    assert (
        check_entry(_info("usr/lib/l", tarfile.SYMTYPE, "../../lib/l"), links) is None
    )
    assert check_entry(_info("/etc/x"), links) == "absolute path"
    assert check_entry(_info("a/../../x"), links) == "path leaves the root"
    assert "outside the root" in str(
        check_entry(_info("h", tarfile.LNKTYPE, "../etc/passwd"), links)
    )
    assert "points outside the root" in str(
        check_entry(_info("a/s", tarfile.SYMTYPE, "../../.."), links)
    )
    assert check_entry(_info("out", tarfile.SYMTYPE, "/tmp"), links) is None
    assert "symbolic link 'out'" in str(check_entry(_info("out/x"), links))


def test_progress_messages() -> None:
    msg = progress.progress("Downloading", "abc", 50, 100)
    assert msg["progressDetail"] == {"current": 50, "total": 100}
    assert msg["progress"].startswith("[" + "=" * 24 + ">")
    assert progress.error("boom") == {
        "errorDetail": {"message": "boom"},
        "error": "boom",
    }
    assert progress.short_id(DIGEST) == "b" * 12


def test_import_changes() -> None:
    config = apply_changes(
        {},
        ['CMD ["a", "b"]', "ENTRYPOINT run it", "ENV K=v", "WORKDIR /w",
         "USER 1", "LABEL a=b c=d", "EXPOSE 80 53/udp"],
    )  # fmt: skip
    assert config == {
        "Cmd": ["a", "b"],
        "Entrypoint": ["/bin/sh", "-c", "run it"],
        "Env": ["K=v"],
        "WorkingDir": "/w",
        "User": "1",
        "Labels": {"a": "b", "c": "d"},
        "ExposedPorts": {"80/tcp": {}, "53/udp": {}},
    }
    with pytest.raises(ValueError, match="unsupported change 'RUN x'"):
        apply_changes({}, ["RUN x"])


def test_daemon_config_registry_keys(tmp_path: Path) -> None:
    from pouch.daemon.config import load

    path = tmp_path / "config.json"
    path.write_text(
        json.dumps(
            {
                "registry-mirrors": ["http://127.0.0.1:5001"],
                "insecure-registries": ["reg.local:5000"],
                "registry-certs-dir": str(tmp_path / "certs.d"),
            }
        )
    )
    config = load(["--config-file", str(path), "--insecure-registry", "10.0.0.0/8"])
    assert config.registry_mirrors == ["http://127.0.0.1:5001"]
    assert config.insecure_registries == ["10.0.0.0/8"]  # flags win
    assert config.registry_certs_dir == str(tmp_path / "certs.d")
