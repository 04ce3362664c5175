"""Fixtures: a session-wide real pouchd (with its own containerd and bridge), fresh
daemons for tests that restart or break one, and a leak check after each module."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.daemon import BUSYBOX_TAR, Pouchd

needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="needs root")


@pytest.fixture(scope="session")
def busybox_tar() -> Path:
    if not BUSYBOX_TAR.exists():
        BUSYBOX_TAR.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            ["python", "scripts/build_busybox_image.py", str(BUSYBOX_TAR)],
            cwd=BUSYBOX_TAR.parents[2],
            check=True,
        )
    return BUSYBOX_TAR


@pytest.fixture(scope="session")
def daemon(busybox_tar: Path) -> Iterator[Pouchd]:
    home = Path(tempfile.mkdtemp(prefix="pouch-test-", dir="/tmp"))
    pouchd = Pouchd(home / "home").start()
    pouchd.load_busybox()
    yield pouchd
    try:
        pouchd.remove_all()
    finally:
        pouchd.stop()
        pouchd.remove_bridge()
        shutil.rmtree(home, ignore_errors=True)


@pytest.fixture
def fresh_daemon(busybox_tar: Path, tmp_path: Path) -> Iterator[object]:
    """A factory of daemons that the test may restart; all are stopped after it."""
    made: list[Pouchd] = []

    def make(**kwargs: object) -> Pouchd:
        pouchd = Pouchd(tmp_path / f"home{len(made)}", **kwargs)  # type: ignore[arg-type]
        made.append(pouchd)
        return pouchd

    yield make
    for pouchd in made:
        try:
            if pouchd.proc is None:
                pouchd.start()
            pouchd.remove_all()
        except Exception:
            pass
        finally:
            pouchd.stop()
            pouchd.remove_bridge()


def host_links(kind: str) -> set[str]:
    out = subprocess.run(["ip", "-o", "link", "show", "type", kind],
                         capture_output=True, text=True).stdout  # fmt: skip
    return {line.split(":")[1].strip().split("@")[0] for line in out.splitlines()}


def host_veths() -> set[str]:
    return host_links("veth")


def overlay_mounts() -> set[str]:
    with open("/proc/mounts") as f:
        return {line.split()[1] for line in f if line.startswith("overlay ")}


@pytest.fixture(scope="module", autouse=True)
def leak_check(request: pytest.FixtureRequest) -> Iterator[None]:
    """After each module: no interfaces or rootfs mounts beyond those it found, and
    no containers left on the session daemon."""
    veths, bridges, mounts = host_veths(), host_links("bridge"), overlay_mounts()
    yield
    if _module_uses_daemon(request):
        d: Pouchd = request.getfixturevalue("daemon")
        left = d.api("GET", "/containers/json", all=1)
        assert not left, f"containers left by {request.module.__name__}: {left}"
    assert host_veths() <= veths, f"veths left: {host_veths() - veths}"
    left_bridges = host_links("bridge") - bridges
    # The session daemon's bridge lives as long as the session.
    if _module_uses_daemon(request):
        left_bridges.discard(request.getfixturevalue("daemon").bridge)
    assert not left_bridges, f"bridges left: {left_bridges}"
    assert overlay_mounts() <= mounts, f"mounts left: {overlay_mounts() - mounts}"


def _module_uses_daemon(request: pytest.FixtureRequest) -> bool:
    return any(
        "daemon" in getattr(item, "fixturenames", ())
        for item in request.session.items
        if item.module is request.module
    )
