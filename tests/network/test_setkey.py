"""The ``libnetwork-setkey`` hook run as runc runs it: the ``pouchd`` executable, an
empty environment, the OCI state on stdin, the daemon's side serving in this loop."""

import asyncio
import json
import os
import secrets
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from pouch.network import links, setkey

from .conftest import MakeSandbox, running_controller

POUCHD = str(Path(sys.executable).with_name("pouchd"))


@pytest.fixture
def controller_id() -> Iterator[str]:
    made = [
        p for p in (Path("/run/pouch/libnetwork"), Path("/run/pouch")) if not p.exists()
    ]
    cid = f"test-{secrets.token_hex(4)}"
    yield cid
    assert not setkey.socket_path(cid).exists(), "hook socket left behind"
    for directory in made:
        if directory.exists() and not any(directory.iterdir()):
            directory.rmdir()


async def run_hook(
    container_id: str, controller_id: str, stdin: bytes
) -> tuple[int, str]:
    proc = await asyncio.create_subprocess_exec(
        POUCHD,
        "libnetwork-setkey",
        container_id,
        controller_id,
        env={},
        stdin=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    _, err = await proc.communicate(stdin)
    return proc.returncode or 0, err.decode()


def state(container_id: str, pid: int) -> bytes:
    return json.dumps(
        {
            "ociVersion": "1.0.2",
            "id": container_id,
            "status": "created",
            "pid": pid,
            "bundle": "/nonexistent",
        }
    ).encode()


@pytest.mark.usefixtures("leak_check")
def test_hook_round_trip(
    tmp_path: Path, sandboxes: MakeSandbox, controller_id: str
) -> None:
    box = sandboxes()

    async def scenario() -> None:
        async with running_controller(tmp_path, controller_id=controller_id) as ctl:
            server = await setkey.serve(controller_id, ctl.join)
            try:
                ep = await ctl.create_endpoint("c1", "bridge")
                code, err = await run_hook("c1", controller_id, state("c1", box.pid))
                assert (code, err) == (0, "")
                assert box.addresses("eth0") == [f"{ep.ip}/24"]

                # The daemon's failure fails the hook, and leaves no veth behind.
                await ctl.create_endpoint("c2", "bridge")
                code, err = await run_hook("c2", controller_id, state("c2", 999999999))
                assert code == 1
                assert "container c2: network setup failed: SandboxError" in err
                (c2,) = ctl.endpoints("c2")
                assert not await links.link_exists(c2.host_veth or "")
            finally:
                await setkey.close_server(server, controller_id)

    asyncio.run(scenario())


def test_hook_without_daemon(controller_id: str) -> None:
    async def scenario() -> None:
        code, err = await run_hook("c1", controller_id, state("c1", os.getpid()))
        assert code == 1
        assert "container c1: no answer from pouchd" in err

    asyncio.run(scenario())


def test_hook_bad_input(controller_id: str) -> None:
    async def scenario() -> None:
        code, err = await run_hook("c1", controller_id, b"{not json")
        assert code == 1
        assert "container c1: bad hook input" in err

        code, err = await run_hook("c1", controller_id, b'{"id": "c1"}')
        assert code == 1
        assert "bad hook input: KeyError('pid')" in err

    asyncio.run(scenario())


def test_bad_request_gets_an_error(controller_id: str) -> None:
    async def handler(container_id: str, pid: int) -> None:
        raise AssertionError("not called")

    async def scenario() -> None:
        server = await setkey.serve(controller_id, handler)
        try:
            path = setkey.socket_path(controller_id)
            assert path.stat().st_mode & 0o777 == 0o600
            reader, writer = await asyncio.open_unix_connection(str(path))
            writer.write(b'{"pid": 1}\n')
            answer = json.loads(await reader.readline())
            writer.close()
            assert "bad setkey request" in answer["error"]
        finally:
            await setkey.close_server(server, controller_id)

    asyncio.run(scenario())


def test_socket_path() -> None:
    assert setkey.socket_path("abc") == Path("/run/pouch/libnetwork/abc.sock")
    setkey.socket_path("f" * 64)  # a full-length id fits in sun_path
    for bad in ("", "../x", "a/b", "x" * 100):
        with pytest.raises(ValueError):
            setkey.socket_path(bad)
