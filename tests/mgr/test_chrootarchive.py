"""``pouchd chroot-archive`` on a plain directory as the container's root: a root
with no Python in it, whose absolute links name the host's test tree."""

from __future__ import annotations

import bz2
import gzip
import io
import json
import lzma
import os
import subprocess
import sys
import tarfile
from collections.abc import Callable
from pathlib import Path

import pytest

from pouch.mgr.chrootarchive import Exit

POUCHD = Path(sys.executable).parent / "pouchd"

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="chroot needs root")


def _helper(*args: str, input: bytes = b"") -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [str(POUCHD), "chroot-archive", *args],
        input=input, capture_output=True, timeout=60,
    )  # fmt: skip


def _tarball(*members: tuple[str, str]) -> bytes:
    """Members as (name, link target); an empty target makes a small file."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for name, target in members:
            info = tarfile.TarInfo(name)
            if target:
                info.type, info.linkname = tarfile.SYMTYPE, target
                tar.addfile(info)
            else:
                info.size = 3
                tar.addfile(info, io.BytesIO(b"in\n"))
    return buf.getvalue()


@pytest.fixture
def root(tmp_path: Path) -> Path:
    root = tmp_path / "root"
    (root / "tmp").mkdir(parents=True)
    (root / "etc").mkdir()
    (root / "etc" / "passwd").write_text("evil:x:0:0::/:/bin/sh\n")
    return root


def _plain(data: bytes) -> bytes:
    return data


# The decompressors are imported before the chroot; none can be after it.
@pytest.mark.parametrize(
    "compress", [_plain, gzip.compress, bz2.compress, lzma.compress]
)
def test_extract_stays_in_the_root(
    root: Path, tmp_path: Path, compress: Callable[[bytes], bytes]
) -> None:
    host = tmp_path / "host"
    host.mkdir()
    (root / str(host).lstrip("/")).mkdir(parents=True)
    data = compress(_tarball(("lnk", str(host)), ("lnk/f", "")))
    done = _helper("extract", str(root), "/tmp", input=data)
    assert done.returncode == Exit.OK, done.stderr
    assert (root / str(host).lstrip("/") / "f").read_bytes() == b"in\n"
    assert list(host.iterdir()) == []


def test_tar_looks_up_no_names(root: Path) -> None:
    (root / "tmp" / "a").write_text("a\n")
    os.link(root / "tmp" / "a", root / "tmp" / "b")
    os.symlink("/etc/passwd", root / "tmp" / "c")
    os.mkfifo(root / "tmp" / "d")
    done = _helper("tar", str(root), "/tmp")
    assert done.returncode == Exit.OK, done.stderr
    with tarfile.open(fileobj=io.BytesIO(done.stdout)) as tar:
        members = {m.name: m for m in tar.getmembers()}
    assert sorted(members) == ["tmp", "tmp/a", "tmp/b", "tmp/c", "tmp/d"]
    # The root's /etc/passwd names uid 0 "evil"; nothing read it.
    assert {(m.uname, m.gname) for m in members.values()} == {("", "")}
    assert members["tmp/b"].islnk() and members["tmp/b"].linkname == "tmp/a"
    assert members["tmp/c"].issym() and members["tmp/c"].linkname == "/etc/passwd"
    assert members["tmp/d"].isfifo()


def test_stat_resolves_links_in_the_root(root: Path) -> None:
    os.symlink("/etc", root / "tmp" / "lnk")
    done = _helper("stat", str(root), "/tmp/lnk")
    assert done.returncode == Exit.OK, done.stderr
    assert json.loads(done.stdout)["link"] == "/etc"
    followed = json.loads(_helper("stat", str(root), "/tmp/lnk/").stdout)
    assert followed["link"] == "" and followed["mode"] & 0o040000


def test_exit_statuses(root: Path) -> None:
    assert _helper("stat", str(root), "/nope").returncode == Exit.MISSING
    assert _helper("tar", str(root), "/nope").returncode == Exit.MISSING
    assert _helper("extract", str(root), "/nope").returncode == Exit.MISSING
    not_dir = _helper("extract", str(root), "/etc/passwd")
    assert not_dir.returncode == Exit.REFUSED
    assert not_dir.stderr == b"extraction point is not a directory: /etc/passwd\n"
    assert _helper("extract", str(root), "/tmp", input=b"junk").returncode == (
        Exit.REFUSED
    )
    assert _helper("frobnicate", str(root), "/").returncode == Exit.USAGE
    assert _helper("stat", str(root / "missing"), "/").returncode == Exit.FAILED
