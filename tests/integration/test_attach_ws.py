"""``GET /containers/{id}/attach/ws`` on a real daemon: raw output in binary frames,
client messages on the container's stdin, the socket closed when the container's
streams end, and the upgrade attach's errors before any upgrade."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from typing import Any

import aiohttp
import pytest

from tests.support.daemon import Pouchd

TIMEOUT = 30.0


@pytest.fixture
def made(daemon: Pouchd) -> Iterator[list[str]]:
    """Ids of the containers the test makes; each is removed after it."""
    ids: list[str] = []
    yield ids
    for cid in ids:
        daemon.status_of("DELETE", f"/containers/{cid}", force=1)


@asynccontextmanager
async def websocket(
    d: Pouchd, cid: str, prefix: str = "", **query: Any
) -> AsyncIterator[aiohttp.ClientWebSocketResponse]:
    connector = aiohttp.UnixConnector(path=str(d.socket))
    async with aiohttp.ClientSession(connector=connector) as session:
        url = f"http://pouchd{prefix}/containers/{cid}/attach/ws"
        params = {name: str(value) for name, value in query.items()}
        async with session.ws_connect(url, params=params) as ws:
            yield ws


async def receive_until(
    ws: aiohttp.ClientWebSocketResponse, wanted: bytes, kinds: list[aiohttp.WSMsgType]
) -> bytes:
    """What arrives until it holds ``wanted`` (or to the close, for ``b""``);
    each frame's kind is added to ``kinds``."""
    seen = b""
    while not wanted or wanted not in seen:
        message = await asyncio.wait_for(ws.receive(), TIMEOUT)
        if message.type in (aiohttp.WSMsgType.BINARY, aiohttp.WSMsgType.TEXT):
            kinds.append(message.type)
            data = message.data
            seen += data.encode() if isinstance(data, str) else data
        else:
            assert message.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED)
            break
    return seen


def wait_for_logs(d: Pouchd, cid: str, wanted: bytes) -> None:
    deadline = time.monotonic() + TIMEOUT
    while wanted not in d.logs(cid):
        assert time.monotonic() < deadline, f"no {wanted!r} in {cid}'s log"
        time.sleep(0.1)


def test_output_is_raw_and_messages_reach_stdin(
    daemon: Pouchd, made: list[str]
) -> None:
    script = "echo hello; read line; echo got $line >&2; exit 3"
    cid = daemon.create(["sh", "-c", script], OpenStdin=True, StdinOnce=True)
    made.append(cid)

    async def scenario() -> tuple[bytes, list[aiohttp.WSMsgType], int | None]:
        kinds: list[aiohttp.WSMsgType] = []
        query = {"stdin": 1, "stdout": 1, "stderr": 1, "stream": 1}
        async with websocket(daemon, cid, **query) as ws:
            await asyncio.to_thread(daemon.api, "POST", f"/containers/{cid}/start")
            seen = await receive_until(ws, b"hello\n", kinds)
            await ws.send_str("world\n")
            seen += await receive_until(ws, b"", kinds)  # to the end
            return seen, kinds, ws.close_code

    seen, kinds, close_code = asyncio.run(scenario())
    # No 8-byte headers, stdout and stderr alike, though there is no terminal.
    assert seen == b"hello\ngot world\n"
    assert set(kinds) == {aiohttp.WSMsgType.BINARY}
    assert close_code == aiohttp.WSCloseCode.OK
    assert daemon.wait(cid) == 3


def test_logs_replays_earlier_output(daemon: Pouchd, made: list[str]) -> None:
    cid = daemon.run(["sh", "-c", "echo early; sleep 300"])
    made.append(cid)
    wait_for_logs(daemon, cid, b"early")

    async def scenario() -> tuple[bytes, bytes, bytes]:
        kinds: list[aiohttp.WSMsgType] = []
        # Without stream, the log so far and the socket closes.
        async with websocket(daemon, cid, logs=1, stdout=1) as ws:
            replayed = await receive_until(ws, b"", kinds)
        # Without logs, nothing from before the attach.
        async with websocket(daemon, cid, stream=1, stdout=1) as ws:
            with pytest.raises(TimeoutError):
                await asyncio.wait_for(ws.receive(), 1.0)
        # With both, the log, then the stream until the container exits.
        async with websocket(daemon, cid, logs=1, stream=1, stdout=1) as ws:
            followed = await receive_until(ws, b"early\n", kinds)
            kill = f"/containers/{cid}/kill"
            await asyncio.to_thread(daemon.api, "POST", kill)
            rest = await receive_until(ws, b"", kinds)
        return replayed, followed, rest

    replayed, followed, rest = asyncio.run(scenario())
    assert replayed == b"early\n"
    assert followed == b"early\n"
    assert rest == b""  # the socket closed at the exit
    assert daemon.inspect(cid)["State"]["Running"] is False


def test_terminal_container(daemon: Pouchd, made: list[str]) -> None:
    cid = daemon.create(["sh"], OpenStdin=True, Tty=True)
    made.append(cid)

    async def scenario() -> bytes:
        kinds: list[aiohttp.WSMsgType] = []
        query = {"stdin": 1, "stdout": 1, "stream": 1}
        async with websocket(daemon, cid, **query) as ws:
            await asyncio.to_thread(daemon.api, "POST", f"/containers/{cid}/start")
            await ws.send_bytes(b"echo got-$((40+2))\n")
            seen = await receive_until(ws, b"got-42\r\n", kinds)
            await ws.send_bytes(b"exit 7\n")
            return seen + await receive_until(ws, b"", kinds)

    seen = asyncio.run(scenario())
    assert b"got-42\r\n" in seen  # the terminal's line endings, nothing added
    assert daemon.wait(cid) == 7


def test_detach_keys_close_the_socket_and_leave_the_container(
    daemon: Pouchd, made: list[str]
) -> None:
    cid = daemon.run(["cat"], OpenStdin=True)
    made.append(cid)

    async def scenario() -> tuple[bytes, bytes]:
        kinds: list[aiohttp.WSMsgType] = []
        query = {"stdin": 1, "stdout": 1, "stream": 1, "detachKeys": "ctrl-x,x"}
        async with websocket(daemon, cid, **query) as ws:
            await ws.send_bytes(b"echoed\n")
            seen = await receive_until(ws, b"echoed\n", kinds)
            await ws.send_bytes(b"\x18x")
            return seen, await receive_until(ws, b"", kinds)

    seen, rest = asyncio.run(scenario())
    assert (seen, rest) == (b"echoed\n", b"")
    assert daemon.inspect(cid)["State"]["Running"] is True


def test_api_before_1_28_sends_text_frames_and_every_stream(
    daemon: Pouchd, made: list[str]
) -> None:
    cid = daemon.run(["sh", "-c", "echo out; echo err >&2"])
    made.append(cid)
    assert daemon.wait(cid) == 0

    async def scenario() -> tuple[bytes, list[aiohttp.WSMsgType]]:
        kinds: list[aiohttp.WSMsgType] = []
        async with websocket(daemon, cid, prefix="/v1.27", logs=1) as ws:
            return await receive_until(ws, b"", kinds), kinds

    seen, kinds = asyncio.run(scenario())
    assert sorted(seen.splitlines()) == [b"err", b"out"]
    assert set(kinds) == {aiohttp.WSMsgType.TEXT}


def handshake_status(d: Pouchd, ref: str, **query: Any) -> int:
    async def scenario() -> int:
        try:
            async with websocket(d, ref, stream=1, **query):
                return 101
        except aiohttp.WSServerHandshakeError as exc:
            return exc.status

    return asyncio.run(scenario())


def test_bad_requests_fail_before_the_upgrade(daemon: Pouchd, made: list[str]) -> None:
    assert handshake_status(daemon, "ws-no-such") == 404

    cid = daemon.run(["sleep", "300"])
    made.append(cid)
    assert handshake_status(daemon, cid, detachKeys="ctrl-") == 400
    daemon.api("POST", f"/containers/{cid}/pause")
    assert handshake_status(daemon, cid) == 409
    daemon.api("POST", f"/containers/{cid}/unpause")

    status, body = daemon.status_of("GET", "/containers/ws-no-such/attach/ws")
    assert (status, body) == (404, {"message": "No such container: ws-no-such"})
    status, body = daemon.status_of("GET", f"/containers/{cid}/attach/ws")
    assert status == 400
    assert "expected a websocket upgrade" in body["message"]


def test_docker_sdk_attach_socket_ws(fresh_daemon: Callable[..., Pouchd]) -> None:
    """The SDK builds ws:// from its base URL, so it needs a TCP listener."""
    import docker
    import websocket  # noqa: F401 - the SDK's ws=True needs it installed

    port = _free_loopback_port()
    d = fresh_daemon(extra_args=["-l", f"tcp://127.0.0.1:{port}"]).start()
    d.load_busybox()
    client = docker.DockerClient(base_url=f"tcp://127.0.0.1:{port}", version="auto")
    container = client.containers.create(
        "busybox", ["sh", "-c", "read line; echo got $line"], stdin_open=True
    )
    try:
        ws = client.api.attach_socket(
            container.id, params={"stdin": 1, "stdout": 1, "stream": 1}, ws=True
        )
        ws.settimeout(TIMEOUT)
        container.start()
        ws.send("sdk\n")
        seen = b""
        while data := ws.recv():
            seen += data
        ws.close()
        assert seen == b"got sdk\n"
        assert container.wait(timeout=TIMEOUT)["StatusCode"] == 0
    finally:
        container.remove(force=True)
        client.close()


def _free_loopback_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port
