"""Bad create requests get 400, 404 or 409 with a message, and create nothing."""

from __future__ import annotations

import pytest

from tests.support.daemon import Pouchd


def count(daemon: Pouchd) -> int:
    return len(daemon.api("GET", "/containers/json", all=1))


def raw_create(daemon: Pouchd, body: bytes, **query: str) -> tuple[int, dict]:  # type: ignore[type-arg]
    try:
        stream = daemon.client.request(
            "POST", "/containers/create", query or None, body,
            {"Content-Type": "application/json"},
        )  # fmt: skip
        return stream.response.status, stream.json()
    except Exception as exc:
        return exc.status, {"message": exc.message}  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    "body, query, status, message",
    [
        (b'{"Image": "busybox", ', {}, 400, "invalid JSON"),
        (b'["busybox"]', {}, 400, "must be a JSON object"),
        (b'{"Image": "nosuchimage:1"}', {}, 404, "No such image: nosuchimage:1"),
        (b'{"Image": "busybox"}', {"name": "bad name!"}, 400,
         "Invalid container name (bad name!)"),
        (b'{"Image": "busybox", "HostConfig": {"Memory": -1}}', {}, 400,
         "invalid HostConfig.Memory -1: must not be negative"),
        (b'{"Image": "busybox", "HostConfig": {"NetworkMode": "nonet"}}', {}, 400,
         "network nonet not found"),
        (b'{"Image": "busybox", "HostConfig": {"Memory": 99999999999999999999999}}',
         {}, 400, "HostConfig.Memory: 99999999999999999999999 is out of the int64"),
        (b'{"Image": "busybox", "HostConfig": {"Memory": "lots"}}', {}, 400,
         "HostConfig.Memory"),
        (b'{"Image": "busybox", "HostConfig": {"Binds": ["v@l:/x"]}}', {}, 400,
         "must match [a-zA-Z0-9][a-zA-Z0-9_.-]+"),
        (b'{"Image": "busybox", "HostConfig": {"Binds": ["vol:x"]}}', {}, 400,
         "must be an absolute path"),
        (b'{"Cmd": ["true"]}', {}, 400, "Config.Image is required"),
    ],
)  # fmt: skip
def test_bad_create_is_refused_and_creates_nothing(
    daemon: Pouchd,
    body: bytes,
    query: dict,
    status: int,
    message: str,  # type: ignore[type-arg]
) -> None:
    before = count(daemon)
    got, answer = raw_create(daemon, body, **query)
    assert got == status
    assert message in answer["message"]
    assert count(daemon) == before


def test_name_in_use_is_a_conflict(daemon: Pouchd) -> None:
    cid = daemon.create(["true"], name="taken")
    status, answer = raw_create(daemon, b'{"Image": "busybox"}', name="taken")
    assert status == 409
    assert answer["message"] == (
        'Conflict. The container name "/taken" is already in use by container '
        f'"{cid}". You have to remove (or rename) that container to be able to '
        "reuse that name."
    )
    assert count(daemon) == 1
    daemon.api("DELETE", "/containers/taken")


def test_unknown_container_and_image_are_404(daemon: Pouchd) -> None:
    assert daemon.status_of("POST", "/containers/nope/start") == (
        404, {"message": "No such container: nope"},
    )  # fmt: skip
    assert daemon.status_of("GET", "/images/nope:1/json")[0] == 404
    assert daemon.status_of("POST", "/containers/nope/kill")[0] == 404


def test_error_content_type_is_exactly_json(daemon: Pouchd) -> None:
    from pouch.client.errors import APIError

    try:
        daemon.client.request("GET", "/containers/nope/json")
    except APIError:
        pass
    import http.client
    import socket

    conn = http.client.HTTPConnection("localhost")
    sock = socket.socket(socket.AF_UNIX)
    sock.connect(str(daemon.socket))
    conn.sock = sock
    conn.request("GET", "/v1.43/containers/nope/json")
    response = conn.getresponse()
    assert response.status == 404
    assert response.getheader("Content-Type") == "application/json"
    conn.close()


def test_ping_and_version_prefix(daemon: Pouchd) -> None:
    stream = daemon.client.request("HEAD", "/_ping")
    assert stream.response.getheader("Api-Version") == "1.43"
    assert daemon.api("GET", "/version")["ApiVersion"] == "1.43"
