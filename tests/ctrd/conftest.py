"""Fixtures: a containerd of our own under a temporary directory, a client on it,
the busybox image built from the host's static busybox, and a minimal OCI spec.

The tests run coroutines on one event loop per module (``run``), because a grpc.aio
channel belongs to the loop it was made on.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import subprocess
import sys
import uuid
from collections.abc import Callable, Coroutine, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest

from pouch.ctrd.client import Containerd
from pouch.ctrd.supervisor import ContainerdProcess

ROOT = Path(__file__).resolve().parents[2]
BUILD_SCRIPT = ROOT / "scripts" / "build_busybox_image.py"
POUCHD = Path(sys.executable).parent / "pouchd"
NAMESPACE = "pouch-test"

T = TypeVar("T")
Run = Callable[[Coroutine[Any, Any, T]], T]


def need_root() -> None:
    if os.geteuid() != 0:
        pytest.skip("containerd tests need root")
    if shutil.which("containerd") is None or shutil.which("runc") is None:
        pytest.skip("containerd and runc are not installed")


@pytest.fixture(scope="module")
def loop() -> Iterator[asyncio.AbstractEventLoop]:
    loop = asyncio.new_event_loop()
    yield loop
    loop.run_until_complete(loop.shutdown_asyncgens())
    loop.close()


@pytest.fixture(scope="module")
def run(loop: asyncio.AbstractEventLoop) -> Run[Any]:
    """Run a coroutine to completion on the module's loop."""

    def _run(coro: Coroutine[Any, Any, T]) -> T:
        return loop.run_until_complete(coro)

    return _run


@pytest.fixture(scope="session")
def busybox_tar(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The busybox image as a docker-archive, built by the project's script."""
    if not Path("/bin/busybox").exists():
        pytest.skip("busybox-static is not installed")
    out = tmp_path_factory.mktemp("images") / "busybox.tar"
    subprocess.run([sys.executable, str(BUILD_SCRIPT), str(out)], check=True)
    return out


@contextlib.contextmanager
def short_home() -> Iterator[Path]:
    """A fresh home directory with a short path: socket paths are limited to 108
    bytes. Removed afterwards, with anything still mounted below it."""
    path = Path(f"/tmp/pouch-ctrd-test-{uuid.uuid4().hex[:8]}")
    path.mkdir()
    try:
        yield path
    finally:
        _unmount_below(path)
        shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="module")
def home() -> Iterator[Path]:
    with short_home() as path:
        yield path


@pytest.fixture(scope="module")
def containerd(home: Path, run: Run[Any]) -> Iterator[ContainerdProcess]:
    need_root()
    proc = ContainerdProcess(home, log_level="debug")
    run(proc.start())
    yield proc
    run(proc.stop())


@pytest.fixture(scope="module")
def client(containerd: ContainerdProcess, run: Run[Any]) -> Iterator[Containerd]:
    client = run(Containerd.connect(containerd.address, NAMESPACE))
    yield client
    _cleanup_namespace(client, run)
    run(client.close())


@pytest.fixture(scope="module")
def busybox(client: Containerd, busybox_tar: Path, run: Run[Any]) -> Any:
    """The imported busybox image record."""
    records = run(client.import_archive(busybox_tar))
    assert [r.name for r in records] == ["docker.io/library/busybox:latest"]
    return records[0]


@pytest.fixture
def runc_root(home: Path) -> Path:
    return home / "runc"


def _cleanup_namespace(client: Containerd, run: Run[Any]) -> None:
    """Remove whatever a test left behind: tasks, containers, images."""
    for task in run(client.list_tasks()):
        if task.status != "stopped":
            run(client.kill_task(task.id, 9, all=True))
            run(asyncio.wait_for(client.wait_task(task.id), 10))
        run(client.delete_task(task.id))
    for container in run(client.list_containers()):
        run(client.delete_container(container.id))
        run(client.remove_rootfs(container.snapshot_key))
    for image in run(client.list_images()):
        run(client.delete_image(image.name))


def _unmount_below(path: Path) -> None:
    """Unmount anything left mounted under ``path`` (deepest first)."""
    with open("/proc/self/mounts") as f:
        points = [line.split()[1] for line in f]
    prefix = str(path) + "/"
    for point in sorted((p for p in points if p.startswith(prefix)), reverse=True):
        subprocess.run(["umount", "-l", point], check=False)


def minimal_spec(
    container_id: str, args: list[str], terminal: bool = False
) -> dict[str, Any]:
    """The smallest runtime spec runc runs busybox with, on this host's cgroup v1."""
    return {
        "ociVersion": "1.0.2",
        "process": {
            "terminal": terminal,
            "user": {"uid": 0, "gid": 0},
            "args": args,
            "env": [
                "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
            ],
            "cwd": "/",
            "capabilities": {
                k: ["CAP_KILL", "CAP_CHOWN", "CAP_SETUID", "CAP_SETGID"]
                for k in ("bounding", "effective", "permitted")
            },
            "rlimits": [{"type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024}],
            "noNewPrivileges": True,
        },
        "root": {"path": "rootfs", "readonly": False},
        "hostname": container_id[:12],
        "mounts": [
            {"destination": "/proc", "type": "proc", "source": "proc"},
            {
                "destination": "/dev",
                "type": "tmpfs",
                "source": "tmpfs",
                "options": ["nosuid", "strictatime", "mode=755", "size=65536k"],
            },
            {
                "destination": "/dev/pts",
                "type": "devpts",
                "source": "devpts",
                "options": [
                    "nosuid",
                    "noexec",
                    "newinstance",
                    "ptmxmode=0666",
                    "mode=0620",
                ],
            },
            {
                "destination": "/sys",
                "type": "sysfs",
                "source": "sysfs",
                "options": ["nosuid", "noexec", "nodev", "ro"],
            },
        ],
        "linux": {
            "cgroupsPath": f"/pouch-test/{container_id}",
            "namespaces": [
                {"type": t} for t in ("pid", "ipc", "uts", "mount", "network")
            ],
            "maskedPaths": ["/proc/kcore", "/sys/firmware"],
            "readonlyPaths": ["/proc/sys", "/proc/sysrq-trigger"],
        },
    }
