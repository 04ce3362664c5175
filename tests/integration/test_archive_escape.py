"""``docker cp`` into a container writes inside it and nowhere else (CVE-2018-15664).

Each container here links into a directory of the host's test tree, by the absolute
path that the host knows it by. A copy that met such a link on the host side would
write into that tree; one resolved inside the container writes into the container's
own directory of that name, or is refused where it has none, as dockerd does.
"""

from __future__ import annotations

import base64
import io
import json
import os
import shutil
import subprocess
import tarfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from pouch.client.errors import APIError
from tests.support.daemon import Pouchd

DOCKER = shutil.which("docker") or "/usr/local/bin/docker"
STAT_HEADER = "X-Docker-Container-Path-Stat"
GO_DIR = 1 << 31


@dataclass
class Victim:
    """A container whose /tmp holds links into ``host``: ``both`` names a directory
    that the container has too, ``dangling`` one that only the host has."""

    cid: str
    host: Path

    @property
    def in_both(self) -> Path:
        return self.host / "in-both"

    @property
    def host_only(self) -> Path:
        return self.host / "host-only"

    def host_files(self) -> set[str]:
        """What the host's tree holds beyond the two directories and its secret."""
        found = {str(p.relative_to(self.host)) for p in self.host.rglob("*")}
        return found - {"in-both", "host-only", "host-only/secret"}


def _setup_script(host: Path) -> str:
    return (
        f"mkdir -p {host}/in-both && ln -s {host}/in-both /tmp/both && "
        f"ln -s {host}/host-only /tmp/dangling && "
        f"ln -s {host}/in-both /tmp/dir && ln -s {host}/in-both /tmp/dir2"
    )


@pytest.fixture(params=["running", "stopped"])
def victim(
    request: pytest.FixtureRequest, daemon: Pouchd, tmp_path: Path
) -> Iterator[Victim]:
    host = tmp_path / "host"
    (host / "in-both").mkdir(parents=True)
    (host / "host-only").mkdir()
    (host / "host-only" / "secret").write_text("the host's\n")
    script = _setup_script(host)
    if request.param == "running":
        cid = daemon.run(["sh", "-c", f"{script} && touch /tmp/ready && sleep 300"])
        _wait_for(daemon, cid, "/tmp/ready")
    else:
        cid = daemon.run(["sh", "-c", script])
        assert daemon.wait(cid) == 0
    try:
        yield Victim(cid, host)
    finally:
        daemon.api("DELETE", f"/containers/{cid}", force=1)


def _wait_for(daemon: Pouchd, cid: str, path: str) -> None:
    for _ in range(100):
        if _stat(daemon, cid, path) is not None:
            return
        time.sleep(0.1)
    raise AssertionError(f"container {cid} never made {path}")


# -- tarballs ---------------------------------------------------------------------


def _file(name: str, data: bytes = b"copied\n") -> tuple[tarfile.TarInfo, bytes]:
    info = tarfile.TarInfo(name)
    info.size, info.mode = len(data), 0o644
    return info, data


def _dir(name: str) -> tuple[tarfile.TarInfo, bytes]:
    info = tarfile.TarInfo(name)
    info.type, info.mode = tarfile.DIRTYPE, 0o755
    return info, b""


def _symlink(name: str, target: str) -> tuple[tarfile.TarInfo, bytes]:
    info = tarfile.TarInfo(name)
    info.type, info.linkname = tarfile.SYMTYPE, target
    return info, b""


def _tar(*entries: tuple[tarfile.TarInfo, bytes]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for info, data in entries:
            tar.addfile(info, io.BytesIO(data) if info.isreg() else None)
    return buf.getvalue()


# -- the archive routes -------------------------------------------------------------


def _put(
    daemon: Pouchd, cid: str, path: str, data: bytes = b"", **query: str
) -> tuple[int, str]:
    """(status, message) of a PUT of ``data`` into ``path``."""
    try:
        daemon.client.request(
            "PUT", f"/containers/{cid}/archive", {"path": path, **query},
            data, {"Content-Type": "application/x-tar"},
        ).read()  # fmt: skip
    except APIError as exc:
        return exc.status, exc.message
    return 200, ""


def _put_refused(daemon: Pouchd, cid: str, path: str, data: bytes, **query: str) -> str:
    status, message = _put(daemon, cid, path, data, **query)
    assert status == 400, (status, message)
    return message


def _read(daemon: Pouchd, cid: str, path: str) -> bytes | None:
    """The file at ``path`` in the container, through GET; None if there is none."""
    try:
        data = daemon.client.request(
            "GET", f"/containers/{cid}/archive", {"path": path}
        ).read()
    except APIError as exc:
        if exc.status == 404:
            return None
        raise
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        member = tar.next()
        assert member is not None and member.isreg(), member
        extracted = tar.extractfile(member)
        assert extracted is not None
        return extracted.read()


def _stat(daemon: Pouchd, cid: str, path: str) -> dict[str, object] | None:
    try:
        head = daemon.client.request(
            "HEAD", f"/containers/{cid}/archive", {"path": path}
        )
    except APIError as exc:
        if exc.status == 404:
            return None
        raise
    head.read()
    doc: dict[str, object] = json.loads(
        base64.b64decode(head.response.getheader(STAT_HEADER) or "")
    )
    return doc


# -- the API -------------------------------------------------------------------------


def test_a_link_in_the_container_is_followed_inside_it(
    daemon: Pouchd, victim: Victim
) -> None:
    # Where the container has the link's target, the file lands there.
    assert _put(daemon, victim.cid, "/tmp", _tar(_file("both/f1")))[0] == 200
    assert _read(daemon, victim.cid, f"{victim.in_both}/f1") == b"copied\n"
    assert _read(daemon, victim.cid, "/tmp/both/f1") == b"copied\n"
    # Where only the host has it, the copy is refused.
    _put_refused(daemon, victim.cid, "/tmp", _tar(_file("dangling/f1")))
    # A destination that is such a link is resolved inside too.
    assert _put(daemon, victim.cid, "/tmp/both", _tar(_file("f2")))[0] == 200
    assert _read(daemon, victim.cid, f"{victim.in_both}/f2") == b"copied\n"
    missing = f"Could not find the file /tmp/dangling in container {victim.cid}"
    assert _put(daemon, victim.cid, "/tmp/dangling") == (404, missing)
    assert victim.host_files() == set()


def test_a_link_the_archive_brings_is_followed_inside_it(
    daemon: Pouchd, victim: Victim
) -> None:
    into_both = _tar(_symlink("own", str(victim.in_both)), _file("own/f3"))
    assert _put(daemon, victim.cid, "/tmp", into_both)[0] == 200
    assert _read(daemon, victim.cid, f"{victim.in_both}/f3") == b"copied\n"
    link = _stat(daemon, victim.cid, "/tmp/own")
    assert link is not None and link["linkTarget"] == str(victim.in_both)

    into_host = _tar(_symlink("own2", str(victim.host_only)), _file("own2/f4"))
    _put_refused(daemon, victim.cid, "/tmp", into_host)
    # A relative link that climbs out of the destination is refused as dockerd
    # refuses it, before anything is written through it.
    climbing = _tar(_symlink("up", "../../.."), _file("up/f5"))
    message = _put_refused(daemon, victim.cid, "/tmp", climbing)
    assert 'invalid symlink "/tmp/up" -> "../../.."' in message
    assert _stat(daemon, victim.cid, "/tmp/up") is None
    assert victim.host_files() == set()


def test_a_directory_replaces_a_link_of_its_name(
    daemon: Pouchd, victim: Victim
) -> None:
    tree = _tar(_dir("dir"), _file("dir/f6"))
    assert _put(daemon, victim.cid, "/tmp", tree)[0] == 200
    made = _stat(daemon, victim.cid, "/tmp/dir")
    assert made is not None and int(str(made["mode"])) & GO_DIR
    assert _read(daemon, victim.cid, "/tmp/dir/f6") == b"copied\n"
    assert _read(daemon, victim.cid, f"{victim.in_both}/f6") is None

    # docker cp asks that no directory replace anything else, and is refused.
    tree2 = _tar(_dir("dir2"), _file("dir2/f7"))
    message = _put_refused(
        daemon, victim.cid, "/tmp", tree2, noOverwriteDirNonDir="true"
    )
    assert message == (
        "cannot extract archive into /tmp: cannot overwrite non-directory "
        '"/tmp/dir2" with directory "/tmp"'
    )
    assert _stat(daemon, victim.cid, "/tmp/dir2") is not None
    assert victim.host_files() == set()


def test_reads_resolve_inside_the_container(daemon: Pouchd, victim: Victim) -> None:
    # The host has <host-only>/secret; the container, through its link, has not.
    assert _read(daemon, victim.cid, "/tmp/dangling/secret") is None
    assert _stat(daemon, victim.cid, "/tmp/dangling/secret") is None
    link = _stat(daemon, victim.cid, "/tmp/both")
    assert link is not None and link["linkTarget"] == str(victim.in_both)
    # A trailing slash follows the link, inside the container.
    followed = _stat(daemon, victim.cid, "/tmp/both/")
    assert followed is not None and int(str(followed["mode"])) & GO_DIR


def test_refusals_keep_their_status(daemon: Pouchd, victim: Victim) -> None:
    cid = victim.cid
    missing = f"Could not find the file /no/such in container {cid}"
    assert _put(daemon, cid, "/no/such") == (404, missing)
    not_a_dir = "extraction point is not a directory: /etc/passwd"
    assert _put(daemon, cid, "/etc/passwd") == (400, not_a_dir)
    _put_refused(daemon, cid, "/tmp", b"this is not a tarball" * 40)
    outside = _tar(_file("../../../f8"))
    assert "is outside of" in _put_refused(daemon, cid, "/tmp", outside)
    assert _stat(daemon, cid, "/f8") is None
    assert _stat(daemon, cid, "/nope") is None
    assert _put(daemon, cid, "/tmp\0/x")[0] == 400
    # Refused at its first member, a large body still gets its answer.
    big = _tar(_symlink("up", "../../.."), _file("big", os.urandom(8 << 20)))
    assert "invalid symlink" in _put_refused(daemon, cid, "/tmp", big)
    assert _stat(daemon, cid, "/tmp/big") is None


def test_owners_and_modes_are_kept(daemon: Pouchd, victim: Victim) -> None:
    info, data = _file("owned", b"#!/bin/sh\n")
    info.uid, info.gid, info.mode = 1234, 5678, 0o4755
    tarball = _tar((info, data), _file("/abs/name"))
    assert _put(daemon, victim.cid, "/tmp", tarball)[0] == 200
    raw = daemon.client.request(
        "GET", f"/containers/{victim.cid}/archive", {"path": "/tmp/owned"}
    ).read()
    with tarfile.open(fileobj=io.BytesIO(raw)) as tar:
        got = tar.next()
    assert got is not None
    assert (got.name, got.uid, got.gid, got.mode) == ("owned", 1234, 5678, 0o4755)
    # A member's absolute name is taken below the destination, as dockerd takes it.
    assert _stat(daemon, victim.cid, "/tmp/abs/name") is not None
    assert _stat(daemon, victim.cid, "/abs/name") is None


# -- the docker CLI ------------------------------------------------------------------

needs_docker = pytest.mark.skipif(
    not Path(DOCKER).exists(), reason="the docker CLI is not installed"
)


def _docker(
    daemon: Pouchd, tmp_path: Path, *args: str
) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "DOCKER_HOST": daemon.host,
        "DOCKER_CONFIG": str(tmp_path / "docker-config"),
    }
    return subprocess.run(
        [DOCKER, *args], capture_output=True, text=True, env=env, timeout=60
    )


@needs_docker
def test_docker_cp_never_writes_on_the_host(
    daemon: Pouchd, victim: Victim, tmp_path: Path
) -> None:
    source = tmp_path / "source" / "dir"
    source.mkdir(parents=True)
    (source / "f9").write_text("from the CLI\n")

    # /tmp/dir is a link to the host's tree: dockerd refuses to put a directory
    # in its place, and so do we.
    refused = _docker(daemon, tmp_path, "cp", str(source), f"{victim.cid}:/tmp/")
    assert refused.returncode == 1
    assert (
        'cannot overwrite non-directory "/tmp/dir" with directory "/tmp"'
        in refused.stderr
    )
    # Through a link the container has: into the container's directory.
    done = _docker(daemon, tmp_path, "cp", str(source), f"{victim.cid}:/tmp/both/")
    assert done.returncode == 0, done.stderr
    assert _read(daemon, victim.cid, f"{victim.in_both}/dir/f9") == b"from the CLI\n"
    assert victim.host_files() == set()


@needs_docker
def test_docker_cp_into_a_volume_and_a_bind(daemon: Pouchd, tmp_path: Path) -> None:
    bound = tmp_path / "bound"
    bound.mkdir()
    volume = f"cp-vol-{os.getpid()}"
    run = _docker(
        daemon, tmp_path, "run", "-d", "-v", f"{volume}:/data", "-v",
        f"{bound}:/bound", "busybox", "sleep", "300",
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    cid = run.stdout.strip()
    try:
        source = tmp_path / "in.txt"
        source.write_text("into the mounts\n")
        large = tmp_path / "large.bin"
        large.write_bytes(os.urandom(8 << 20))
        done = _docker(daemon, tmp_path, "cp", str(large), f"{cid}:/data/")
        assert done.returncode == 0, done.stderr
        for target in ("/data/", "/bound/"):
            done = _docker(daemon, tmp_path, "cp", str(source), f"{cid}:{target}")
            assert done.returncode == 0, done.stderr
        seen = _docker(daemon, tmp_path, "exec", cid, "cat", "/data/in.txt")
        assert seen.stdout == "into the mounts\n"
        assert (bound / "in.txt").read_text() == "into the mounts\n"
        mountpoint = daemon.api("GET", f"/volumes/{volume}")["Mountpoint"]
        assert (Path(mountpoint) / "in.txt").read_text() == "into the mounts\n"

        back = tmp_path / "back"
        back.mkdir()
        done = _docker(daemon, tmp_path, "cp", f"{cid}:/data/in.txt", str(back))
        assert done.returncode == 0, done.stderr
        assert (back / "in.txt").read_text() == "into the mounts\n"
        done = _docker(daemon, tmp_path, "cp", f"{cid}:/data/large.bin", str(back))
        assert done.returncode == 0, done.stderr
        assert (back / "large.bin").read_bytes() == large.read_bytes()
        # A trailing /. copies a directory's contents, as dockerd names them.
        done = _docker(daemon, tmp_path, "cp", f"{cid}:/bound/.", str(back / "all"))
        assert done.returncode == 0, done.stderr
        assert (back / "all" / "in.txt").exists()
    finally:
        daemon.api("DELETE", f"/containers/{cid}", force=1)
        daemon.api("DELETE", f"/volumes/{volume}")
