"""The docker SDK for Python (docker-py 7) drives pouchd unchanged."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.daemon import BUSYBOX_TAR, Pouchd
from tests.support.registry import REGISTRY_BIN, Registry

docker = pytest.importorskip("docker")


@pytest.fixture
def client(daemon: Pouchd) -> Iterator[Any]:
    sdk = docker.DockerClient(base_url=daemon.host, version="auto", timeout=60)
    yield sdk
    for container in sdk.containers.list(all=True):
        if container.name.startswith("sdk-"):
            container.remove(force=True)
    sdk.close()


def test_ping_and_version(client: Any) -> None:
    assert client.ping() is True
    assert client.version()["ApiVersion"] == "1.43"
    assert client.info()["OSType"] == "linux"


def test_images_load_get_list_remove(client: Any) -> None:
    with open(BUSYBOX_TAR, "rb") as f:
        loaded = client.images.load(f.read())
    assert "busybox:latest" in loaded[0].tags
    image = client.images.get("busybox")
    assert image.id.startswith("sha256:")
    image.tag("sdk-test/busybox", "v1")
    assert any("sdk-test/busybox:v1" in i.tags for i in client.images.list())
    client.images.remove("sdk-test/busybox:v1")
    with pytest.raises(docker.errors.ImageNotFound):
        client.images.get("sdk-test/busybox:v1")


def test_images_pull(client: Any, tmp_path: Path) -> None:
    if not Path(REGISTRY_BIN).exists():
        pytest.skip("docker-registry is not installed")
    registry = Registry(tmp_path / "registry").start()
    try:
        name = f"{registry.host}/sdk/busybox"
        client.images.get("busybox").tag(name, "v1")
        client.images.push(name, tag="v1")
        client.images.remove(f"{name}:v1")
        pulled = client.images.pull(name, tag="v1")
        assert f"{name}:v1" in pulled.tags
        client.images.remove(f"{name}:v1")
    finally:
        registry.stop()


def test_unnamed_image_load_list_prune(client: Any, tmp_path: Path) -> None:
    from tests.support.images import image_archive, layer_tar

    image_archive(tmp_path / "unnamed.tar", None, [layer_tar({"sdk": b"1"})])
    (image,) = client.images.load((tmp_path / "unnamed.tar").read_bytes())
    assert image.id.startswith("sha256:") and image.tags == []
    dangling = client.images.list(filters={"dangling": True})
    assert [i.id for i in dangling] == [image.id]
    assert client.images.get(image.short_id).id == image.id
    pruned = client.images.prune()
    assert pruned["ImagesDeleted"] == [{"Deleted": image.id}]
    with pytest.raises(docker.errors.ImageNotFound):
        client.images.get(image.id)


def test_run_output_and_exit(client: Any) -> None:
    out = client.containers.run("busybox", ["sh", "-c", "echo hi; echo err >&2"],
                                remove=True)  # fmt: skip
    assert out == b"hi\n"
    with pytest.raises(docker.errors.ContainerError) as failed:
        client.containers.run("busybox", ["sh", "-c", "echo bad >&2; exit 3"],
                              name="sdk-fail")  # fmt: skip
    assert failed.value.exit_status == 3
    assert b"bad" in failed.value.stderr
    with pytest.raises(docker.errors.ImageNotFound):
        client.containers.create("sdk-none/such:v1", "true")


def test_create_start_wait_logs_remove(client: Any) -> None:
    container = client.containers.create(
        "busybox", ["sh", "-c", "echo one; echo two >&2; exit 5"], name="sdk-life"
    )
    assert container.status == "created"
    container.start()
    assert container.wait(timeout=30) == {"StatusCode": 5, "Error": None}
    assert container.logs(stdout=True, stderr=False) == b"one\n"
    assert container.logs(stdout=False, stderr=True) == b"two\n"
    assert container.logs() == b"one\ntwo\n"
    container.remove()
    with pytest.raises(docker.errors.NotFound):
        client.containers.get("sdk-life")


def test_stop_kill_detached(client: Any) -> None:
    container = client.containers.run("busybox", ["sleep", "300"], detach=True,
                                      name="sdk-sleep")  # fmt: skip
    container.reload()
    assert container.status == "running"
    container.stop(timeout=1)
    container.reload()
    assert container.status == "exited"
    container.start()
    container.kill()
    assert container.wait(timeout=30)["StatusCode"] == 137
    with pytest.raises(docker.errors.APIError) as conflict:
        container.kill()
    assert conflict.value.status_code == 409
    container.remove(force=True)


def test_attach_and_exec_run(client: Any) -> None:
    container = client.containers.run(
        "busybox",
        [
            "sh",
            "-c",
            "sleep 1; for i in 1 2 3; do echo tick$i; sleep 0.2; done; sleep 300",
        ],  # noqa: E501
        detach=True,
        name="sdk-attach",
    )
    stream = container.attach(stream=True, logs=True)
    seen = b""
    for chunk in stream:
        seen += chunk
        if b"tick3" in seen:
            break
    assert seen == b"tick1\ntick2\ntick3\n"

    result = container.exec_run(["sh", "-c", "echo exec-out; exit 6"])
    assert (result.exit_code, result.output) == (6, b"exec-out\n")
    split = container.exec_run(["sh", "-c", "echo o; echo e >&2"], demux=True)
    assert split.output == (b"o\n", b"e\n")
    tty = container.exec_run(["tty"], tty=True)
    assert tty.output.startswith(b"/dev/pts/")
    detached = container.exec_run(["sleep", "1"], detach=True)
    assert (detached.exit_code, detached.output) == (None, "")
    container.remove(force=True)


def test_attach_socket_stdin(client: Any) -> None:
    """stdin through the upgraded socket to a shell on a terminal."""
    container = client.containers.create(
        "busybox", ["sh"], stdin_open=True, tty=True, name="sdk-stdin"
    )
    sock = client.api.attach_socket(
        container.id, params={"stdin": 1, "stdout": 1, "stream": 1}
    )
    raw = sock._sock
    container.start()
    raw.sendall(b"echo got-$((40+2))\nexit 9\n")
    out = b""
    raw.settimeout(10)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        data = raw.recv(4096)
        if not data:
            break
        out += data
    assert b"got-42" in out
    assert container.wait(timeout=30)["StatusCode"] == 9
    sock.close()
    container.remove()


def test_events(client: Any) -> None:
    since = time.time()
    seen: list[dict[str, Any]] = []
    stream = client.events(decode=True, filters={"container": "sdk-events"})

    def collect() -> None:
        for event in stream:
            seen.append(event)
            if event["Action"] == "destroy":
                return

    reader = threading.Thread(target=collect, daemon=True)
    reader.start()
    # No pause: the daemon subscribes the stream before its headers go out.
    client.containers.run("busybox", "true", name="sdk-events", remove=True)
    reader.join(timeout=20)
    stream.close()
    actions = [e["Action"] for e in seen]
    assert actions[:2] == ["create", "start"]
    assert "die" in actions and actions[-1] == "destroy"
    assert all(e["Actor"]["Attributes"]["name"] == "sdk-events" for e in seen)

    past = list(client.events(since=since, until=time.time(), decode=True,
                              filters={"event": "die"}))  # fmt: skip
    assert any(e["Actor"]["Attributes"]["name"] == "sdk-events" for e in past)


def test_bad_requests_are_4xx(client: Any) -> None:
    with pytest.raises(docker.errors.APIError) as bad:
        client.api.create_container("busybox", "true", host_config={"Memory": -1})
    assert bad.value.status_code == 400
    with pytest.raises(docker.errors.NotFound):
        client.containers.get("sdk-no-such")
    response = client.api._get(
        client.api._url("/events"), params={"filters": '{"bogus": ["x"]}'}
    )
    assert response.status_code == 400
    assert response.json() == {"message": "invalid filter 'bogus'"}


def test_detach_keys_and_resize(client: Any) -> None:
    container = client.containers.create(
        "busybox", ["sh"], stdin_open=True, tty=True, name="sdk-detach"
    )
    container.start()
    container.resize(height=33, width=101)
    size = container.exec_run(["sh", "-c", "stty size < /proc/1/fd/0"])
    assert size.output.strip() == b"33 101"

    sock = client.api.attach_socket(
        container.id,
        params={"stdin": 1, "stdout": 1, "stream": 1, "detachKeys": "ctrl-x,x"},
    )
    raw = sock._sock
    raw.settimeout(10)
    raw.sendall(b"echo be''fore\n")
    out = b""
    while b"before" not in out:
        out += raw.recv(4096)
    raw.sendall(b"\x18x")  # the detach keys: the session ends, the shell runs on
    while raw.recv(4096):
        pass
    sock.close()
    container.reload()
    assert container.status == "running"

    bad = client.api._post(
        client.api._url(f"/containers/{container.id}/attach"),
        params={"stream": 1, "stdin": 1, "detachKeys": "ctrl-"},
    )
    assert bad.status_code == 400
    assert "Invalid detach keys" in bad.json()["message"]
    container.remove(force=True)
