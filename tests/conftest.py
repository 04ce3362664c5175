"""Fixtures: a session-wide real pouchd (with its own containerd and bridge), fresh
daemons for tests that restart or break one, and a leak check after each module."""

from __future__ import annotations

import os
import subprocess
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
def daemon(
    busybox_tar: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Pouchd]:  # noqa: E501
    pouchd = Pouchd(tmp_path_factory.mktemp("session") / "home").start()
    pouchd.load_busybox()
    yield pouchd
    try:
        pouchd.remove_all()
    finally:
        pouchd.stop()
        pouchd.remove_bridge()


@pytest.fixture
def fresh_daemon(busybox_tar: Path, tmp_path: Path) -> Iterator[object]:
    """A factory of daemons that the test may restart; all are stopped after it, and
    each must have left no interface on its bridge and no mount in its home."""
    made: list[Pouchd] = []

    def make(**kwargs: object) -> Pouchd:
        pouchd = Pouchd(tmp_path / f"home{len(made)}", **kwargs)  # type: ignore[arg-type]
        made.append(pouchd)
        return pouchd

    yield make
    leaks = []
    for pouchd in made:
        try:
            if pouchd.proc is None:
                pouchd.start()
            pouchd.remove_all()
        except Exception:
            pass
        finally:
            pouchd.stop()
            leaks += leftovers(pouchd)
            pouchd.remove_bridge()
    assert not leaks, f"left behind: {leaks}"


def links_on(bridge: str) -> set[str]:
    out = subprocess.run(["ip", "-o", "link", "show", "master", bridge],
                         capture_output=True, text=True).stdout  # fmt: skip
    return {line.split(":")[1].strip().split("@")[0] for line in out.splitlines()}


def host_veths() -> set[str]:
    out = subprocess.run(["ip", "-o", "link", "show", "type", "veth"],
                         capture_output=True, text=True).stdout  # fmt: skip
    return {line.split(":")[1].strip().split("@")[0] for line in out.splitlines()}


def overlay_mounts(under: Path | None = None) -> set[str]:
    with open("/proc/mounts") as f:
        points = {line.split()[1] for line in f if line.startswith("overlay ")}
    return {p for p in points if under is None or p.startswith(str(under))}


def leftovers(pouchd: Pouchd) -> list[str]:
    """What a daemon with no containers should not have: interfaces on its bridge,
    rootfs mounts in its home."""
    found = [f"interface {name}" for name in links_on(pouchd.bridge)]
    found += [f"mount {point}" for point in overlay_mounts(pouchd.home)]
    found += [f"rule {rule}" for rule in port_rules(pouchd.bridge)]
    return found


def port_rules(bridge: str) -> list[str]:
    """DNAT and forwarding rules of published ports on this bridge: they must go
    when their containers stop."""
    rules = []
    for table in ("nat", "filter"):
        listing = subprocess.run(["iptables", "-w", "-t", table, "-S"],
                                 capture_output=True, text=True).stdout  # fmt: skip
        rules += [
            r for r in listing.splitlines() if bridge in r.split() and "DNAT" in r
        ]
    return rules


@pytest.fixture(scope="module", autouse=True)
def leak_check(request: pytest.FixtureRequest) -> Iterator[None]:
    """After each module that used the session daemon: no containers left on it, no
    interface on its bridge, no rootfs mount in its home."""
    yield
    if _module_uses_daemon(request):
        d: Pouchd = request.getfixturevalue("daemon")
        left = d.api("GET", "/containers/json", all=1)
        assert not left, f"containers left by {request.module.__name__}: {left}"
        assert not leftovers(d), f"left by {request.module.__name__}: {leftovers(d)}"


def _module_uses_daemon(request: pytest.FixtureRequest) -> bool:
    return any(
        "daemon" in getattr(item, "fixturenames", ())
        for item in request.session.items
        if item.module is request.module
    )
