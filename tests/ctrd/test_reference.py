"""Reference normalization: Docker's short names to containerd's full ones."""

import pytest

from pouch.ctrd.reference import familiar, normalize, repository

DIGEST = "sha256:" + "a" * 64


@pytest.mark.parametrize(
    ("ref", "full"),
    [
        ("busybox", "docker.io/library/busybox:latest"),
        ("busybox:1.2", "docker.io/library/busybox:1.2"),
        ("library/busybox", "docker.io/library/busybox:latest"),
        ("docker.io/busybox", "docker.io/library/busybox:latest"),
        ("index.docker.io/library/busybox:x", "docker.io/library/busybox:x"),
        ("foo/bar", "docker.io/foo/bar:latest"),
        ("localhost/x", "localhost/x:latest"),
        ("localhost:5000/x", "localhost:5000/x:latest"),
        (
            "registry.example.com/a/b/c:v1.0-rc_1",
            "registry.example.com/a/b/c:v1.0-rc_1",
        ),
        (f"foo/bar@{DIGEST}", f"docker.io/foo/bar@{DIGEST}"),
        (f"busybox:1@{DIGEST}", f"docker.io/library/busybox:1@{DIGEST}"),
        ("docker.io/library/busybox:latest", "docker.io/library/busybox:latest"),
        ("a__b/c.d-e", "docker.io/a__b/c.d-e:latest"),
    ],
)
def test_normalize(ref: str, full: str) -> None:
    assert normalize(ref) == full
    assert normalize(full) == full


@pytest.mark.parametrize(
    ("name", "short"),
    [
        ("docker.io/library/busybox:latest", "busybox:latest"),
        ("busybox", "busybox:latest"),
        ("docker.io/foo/bar:1", "foo/bar:1"),
        ("localhost:5000/x:latest", "localhost:5000/x:latest"),
        (f"docker.io/foo/bar@{DIGEST}", f"foo/bar@{DIGEST}"),
        ("docker.io/library/a/b:1", "library/a/b:1"),
    ],
)
def test_familiar(name: str, short: str) -> None:
    assert familiar(name) == short


def test_repository() -> None:
    assert repository("busybox:1") == "docker.io/library/busybox"
    assert repository("localhost:5000/x") == "localhost:5000/x"
    assert repository(f"foo@{DIGEST}") == "docker.io/library/foo"


@pytest.mark.parametrize(
    ("ref", "message"),
    [
        ("", "empty reference"),
        ("Busybox", "must be lowercase"),
        ("busybox:", "bad tag"),
        ("busybox:bad tag", "bad tag"),
        ("foo/bar@sha256:xyz", "bad digest"),
        ("a" * 64, "64-byte hexadecimal"),
        ("foo//bar", "bad path component"),
        ("-foo", "bad path component"),
        (":tag", "no repository name"),
        ("a/" + "b" * 300, "longer than 255"),
    ],
)
def test_invalid(ref: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        normalize(ref)


@pytest.mark.parametrize(
    ("ref", "parts"),
    [
        ("busybox", ("docker.io", "library/busybox", "latest", "")),
        ("localhost:5000/a/b:v1", ("localhost:5000", "a/b", "v1", "")),
        (f"x@{DIGEST}", ("docker.io", "library/x", "", DIGEST)),
        (f"r.io/x:1@{DIGEST}", ("r.io", "x", "1", DIGEST)),
    ],
)
def test_parse(ref: str, parts: tuple[str, str, str, str]) -> None:
    from pouch.ctrd.reference import parse

    parsed = parse(ref)
    assert (parsed.domain, parsed.path, parsed.tag, parsed.digest) == parts
    assert parsed.full == normalize(ref)
    assert parsed.object == (parts[3] or parts[2])
