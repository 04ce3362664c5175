"""Containers and tasks end to end on a real containerd, runc and busybox."""

from __future__ import annotations

import asyncio
import json
import signal
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from pouch.ctrd.client import Containerd
from pouch.ctrd.errors import ContainerdNotFound
from pouch.ctrd.jsonlog import binary_log_uri
from pouch.ctrd.supervisor import ContainerdProcess

from .conftest import POUCHD, Run, minimal_spec


@dataclass
class Box:
    """A container made for one test, and where its log goes."""

    id: str
    log: Path


class Boxes:
    """Makes containers and removes all of them, whatever state they are in."""

    def __init__(self, client: Containerd, run: Run[Any], home: Path, image: Any):
        self.client, self.run, self.home, self.image = client, run, home, image
        self.made: list[str] = []

    def create(self, args: list[str], terminal: bool = False) -> Box:
        cid = f"test-{uuid.uuid4().hex[:12]}"
        self.made.append(cid)
        log = self.home / "containers" / cid / "json.log"
        self.run(self._create(cid, args, terminal, log))
        return Box(cid, log)

    async def _create(
        self, cid: str, args: list[str], terminal: bool, log: Path
    ) -> None:
        c = self.client
        mounts = await c.prepare_rootfs(cid, self.image.chain_id)
        spec = minimal_spec(cid, args, terminal)
        await c.create_container(
            cid, spec, cid, self.image.name, {"test": "1"}, str(self.home / "runc")
        )
        uri = binary_log_uri(POUCHD, log)
        await c.create_task(cid, mounts, stdout=uri, stderr=uri, terminal=terminal)

    def remove_all(self) -> None:
        for cid in self.made:
            self.run(self._remove(cid))

    async def _remove(self, cid: str) -> None:
        c = self.client
        try:
            task = await c.get_task(cid)
        except ContainerdNotFound:
            task = None
        if task is not None and task.status != "stopped":
            await c.kill_task(cid, signal.SIGKILL, all=True)
            await asyncio.wait_for(c.wait_task(cid), 10)
        await c.delete_task(cid)
        await c.delete_container(cid)
        await c.remove_rootfs(cid)


@pytest.fixture
def boxes(
    client: Containerd, run: Run[Any], home: Path, busybox: Any
) -> Iterator[Boxes]:
    made = Boxes(client, run, home, busybox)
    yield made
    made.remove_all()


def log_lines(path: Path) -> list[dict[str, str]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


async def start_and_wait(client: Containerd, cid: str) -> int:
    waiter = asyncio.ensure_future(client.wait_task(cid))
    await asyncio.sleep(0)
    await client.start_task(cid)
    status = await asyncio.wait_for(waiter, 20)
    return int(status.code)


def test_run_logs_both_streams_and_exit_code(
    client: Containerd, boxes: Boxes, run: Run[Any]
) -> None:
    box = boxes.create(["sh", "-c", "echo hi; echo err >&2; exit 3"])
    assert run(client.get_task(box.id)).status == "created"

    assert run(start_and_wait(client, box.id)) == 3

    info = run(client.get_task(box.id))
    assert info.status == "stopped"
    assert info.exit_status is not None and info.exit_status.code == 3
    deleted = run(client.delete_task(box.id))
    assert deleted is not None and deleted.code == 3
    # The shim closes the logger's pipes on delete and waits for it to exit.
    lines = log_lines(box.log)
    assert [(e["stream"], e["log"]) for e in lines] == [
        ("stdout", "hi\n"),
        ("stderr", "err\n"),
    ] or sorted((e["stream"], e["log"]) for e in lines) == [
        ("stderr", "err\n"),
        ("stdout", "hi\n"),
    ]
    assert all(e["time"].endswith("Z") for e in lines)


def test_container_record(client: Containerd, boxes: Boxes, run: Run[Any]) -> None:
    box = boxes.create(["true"])
    info = run(client.get_container(box.id))
    assert info.image == "docker.io/library/busybox:latest"
    assert info.labels == {"test": "1"}
    assert info.spec["process"]["args"] == ["true"]
    assert box.id in [c.id for c in run(client.list_containers())]


def test_kill_sleeping_task(
    client: Containerd, boxes: Boxes, run: Run[Any], home: Path
) -> None:
    box = boxes.create(["sleep", "100"])
    # The shim runs runc with the options' root plus the namespace.
    assert (home / "runc" / client.namespace / box.id / "state.json").exists()

    async def scenario() -> int:
        waiter = asyncio.ensure_future(client.wait_task(box.id))
        await client.start_task(box.id)
        task = await client.get_task(box.id)
        assert task.status == "running" and task.pid > 0
        assert task.pid in await client.task_pids(box.id)
        assert box.id in [t.id for t in await client.list_tasks()]
        await client.kill_task(box.id, signal.SIGKILL)
        return int((await asyncio.wait_for(waiter, 10)).code)

    assert run(scenario()) == 128 + signal.SIGKILL


def test_wait_is_cancellable(client: Containerd, boxes: Boxes, run: Run[Any]) -> None:
    box = boxes.create(["sleep", "100"])

    async def scenario() -> None:
        await client.start_task(box.id)
        waiter = asyncio.ensure_future(client.wait_task(box.id))
        await asyncio.sleep(0.2)
        waiter.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiter
        assert (await client.get_task(box.id)).status == "running"

    run(scenario())


def test_terminal_output_goes_to_stdout(
    client: Containerd, boxes: Boxes, run: Run[Any]
) -> None:
    box = boxes.create(["sh", "-c", "echo tty; echo err >&2"], terminal=True)
    assert run(start_and_wait(client, box.id)) == 0
    run(client.delete_task(box.id))
    lines = log_lines(box.log)
    assert {e["stream"] for e in lines} == {"stdout"}
    assert "".join(e["log"] for e in lines) == "tty\r\nerr\r\n"


def test_missing_task_raises_not_found(client: Containerd, run: Run[Any]) -> None:
    with pytest.raises(ContainerdNotFound):
        run(client.get_task("no-such-task"))
    assert run(client.delete_task("no-such-task")) is None
    run(client.delete_container("no-such-container"))
    run(client.remove_rootfs("no-such-snapshot"))


def test_task_survives_containerd_restart(
    containerd: ContainerdProcess, client: Containerd, boxes: Boxes, run: Run[Any]
) -> None:
    box = boxes.create(["sleep", "100"])
    run(client.start_task(box.id))
    pid = run(client.get_task(box.id)).pid

    run(containerd.stop())
    assert Path(f"/proc/{pid}").exists(), "the task died with containerd"
    run(containerd.start())

    async def after_restart() -> int:
        # The channel reconnects by itself once containerd answers again.
        for _ in range(50):
            try:
                task = await client.get_task(box.id)
                break
            except Exception:
                await asyncio.sleep(0.1)
        assert task.status == "running" and task.pid == pid
        waiter = asyncio.ensure_future(client.wait_task(box.id))
        await asyncio.sleep(0.1)
        await client.kill_task(box.id, signal.SIGKILL)
        return int((await asyncio.wait_for(waiter, 10)).code)

    assert run(after_restart()) == 128 + signal.SIGKILL


def test_create_task_leaves_the_loop_free_for_hooks(
    client: Containerd, busybox: Any, run: Run[Any], home: Path
) -> None:
    """A prestart hook that calls back into our event loop must not deadlock."""
    sock = home / "hook.sock"
    hook = (
        "import socket,sys; s=socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]);"
        "s.sendall(b'ping'); sys.exit(0 if s.recv(4) == b'pong' else 1)"
    )
    cid = f"test-{uuid.uuid4().hex[:12]}"
    spec = minimal_spec(cid, ["true"])
    spec["hooks"] = {
        "prestart": [
            {"path": sys.executable, "args": ["python", "-c", hook, str(sock)]}
        ]
    }
    called: list[bytes] = []

    async def answer(
        reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        called.append(await reader.readexactly(4))
        writer.write(b"pong")
        await writer.drain()
        writer.close()

    async def scenario() -> None:
        server = await asyncio.start_unix_server(answer, str(sock))
        try:
            mounts = await client.prepare_rootfs(cid, busybox.chain_id)
            await client.create_container(
                cid, spec, cid, busybox.name, {}, str(home / "runc")
            )
            await asyncio.wait_for(
                client.create_task(cid, mounts, stdout="", stderr=""), 20
            )
        finally:
            server.close()
            await client.delete_task(cid)
            await client.delete_container(cid)
            await client.remove_rootfs(cid)

    run(scenario())
    assert called == [b"ping"]
