"""What ``create`` and ``run`` send, and how ``run`` reports what happened."""

from typing import Any

import pytest

from pouch.client.streams import STDERR, STDOUT, encode_frame

from .conftest import Pouch
from .fakedaemon import Answer, FakeDaemon

CID = "c0ffee" + "0" * 58


def _accept_create(fake: FakeDaemon) -> None:
    fake.on("POST", "/containers/create", Answer(201, {"Id": CID, "Warnings": []}))


def _create_body(pouch: Pouch, fake: FakeDaemon, *args: str) -> Any:
    _accept_create(fake)
    result = pouch("create", *args)
    assert result.exit_code == 0, result.stderr
    assert result.stdout == CID + "\n"
    return fake.find("POST", "/containers/create").json()


def test_create_sends_docker_shaped_body(pouch: Pouch, fake: FakeDaemon) -> None:
    body = _create_body(
        pouch,
        fake,
        *("--name", "web", "-e", "A=1", "-e", "B=two=2", "-l", "tier=front"),
        *("-v", "/src:/dst:ro", "-v", "/data", "-m", "64m", "--hostname", "h1"),
        *("-w", "/srv", "-u", "1000:1000", "--network", "none", "-t", "-i"),
        *("--privileged", "--cap-add", "NET_ADMIN", "--cap-drop", "MKNOD"),
        *("--read-only", "--cpu-shares", "512", "--cpu-quota", "50000"),
        *("--cpu-period", "100000", "--pids-limit", "64"),
        *("--restart", "on-failure:3", "--entrypoint", "/bin/sh"),
        *("busybox", "-c", "echo hi"),
    )
    assert fake.find("POST", "/containers/create").query == {"name": "web"}
    assert body["Image"] == "busybox"
    assert body["Cmd"] == ["-c", "echo hi"]
    assert body["Entrypoint"] == ["/bin/sh"]
    assert body["Env"] == ["A=1", "B=two=2"]
    assert body["Labels"] == {"tier": "front"}
    assert (body["Tty"], body["OpenStdin"]) == (True, True)
    assert (body["Hostname"], body["WorkingDir"], body["User"]) == (
        "h1",
        "/srv",
        "1000:1000",
    )
    assert body["Volumes"] == {"/data": {}}
    assert body["HostConfig"] == {
        "Binds": ["/src:/dst:ro"],
        "Memory": 64 * 1024 * 1024,
        "NetworkMode": "none",
        "AutoRemove": False,
        "Privileged": True,
        "CapAdd": ["NET_ADMIN"],
        "CapDrop": ["MKNOD"],
        "ReadonlyRootfs": True,
        "CpuShares": 512,
        "CpuQuota": 50000,
        "CpuPeriod": 100000,
        "PidsLimit": 64,
        "RestartPolicy": {"Name": "on-failure", "MaximumRetryCount": 3},
    }


def test_create_defaults_are_docker_zero_values(pouch: Pouch, fake: FakeDaemon) -> None:
    body = _create_body(pouch, fake, "busybox")
    assert "name" not in fake.find("POST", "/containers/create").query
    assert body["Cmd"] is None and body["Entrypoint"] is None and body["Env"] is None
    host = body["HostConfig"]
    assert host["Binds"] is None and host["Memory"] == 0 and host["PidsLimit"] is None
    assert host["NetworkMode"] == "default"
    assert host["RestartPolicy"] == {"Name": "no", "MaximumRetryCount": 0}


def test_options_after_the_image_belong_to_the_command(
    pouch: Pouch, fake: FakeDaemon
) -> None:
    body = _create_body(pouch, fake, "busybox", "ls", "-l", "--rm", "-e", "X=1")
    assert body["Cmd"] == ["ls", "-l", "--rm", "-e", "X=1"]
    assert body["Env"] is None and body["HostConfig"]["AutoRemove"] is False


def test_bare_env_name_takes_the_shell_value(
    pouch: Pouch, fake: FakeDaemon, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FROM_SHELL", "yes")
    monkeypatch.delenv("UNSET_HERE", raising=False)
    body = _create_body(pouch, fake, "-e", "FROM_SHELL", "-e", "UNSET_HERE", "img")
    assert body["Env"] == ["FROM_SHELL=yes"]


def test_empty_entrypoint_clears_the_image_one(pouch: Pouch, fake: FakeDaemon) -> None:
    assert _create_body(pouch, fake, "--entrypoint", "", "img")["Entrypoint"] == [""]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("-m", "lots"), 'invalid argument "lots" for "-m, --memory": invalid size'),
        (("-v", "rel:/dst:bogus"), "invalid volume specification: 'rel:/dst:bogus'"),
        (("-v", "/src:relative"), "invalid volume specification: '/src:relative'"),
        (("--restart", "sometimes"), "invalid restart policy 'sometimes'"),
        (("--restart", "always:3"), "invalid restart policy 'always:3'"),
        (("--rm", "--restart", "always"), "Conflicting options: --restart and --rm"),
    ],
)
def test_bad_flags_fail_before_any_request(
    pouch: Pouch, fake: FakeDaemon, args: tuple[str, ...], message: str
) -> None:
    result = pouch("run", *args, "busybox")
    assert result.exit_code == 125
    assert result.stderr.startswith(message)
    assert result.stderr.count("\n") == 1
    assert fake.requests == []


def test_run_detached_creates_starts_and_prints_the_id(
    pouch: Pouch, fake: FakeDaemon
) -> None:
    _accept_create(fake)
    fake.on("POST", f"/containers/{CID}/start", Answer(204))
    result = pouch("run", "-d", "--rm", "busybox", "sleep", "9")
    assert result.exit_code == 0
    assert result.stdout == CID + "\n"
    assert fake.paths() == ["POST /containers/create", f"POST /containers/{CID}/start"]
    body = fake.find("POST", "/containers/create").json()
    assert body["HostConfig"]["AutoRemove"] is True
    assert body["AttachStdout"] is False


def _attached_run(fake: FakeDaemon, logs: Answer, status: int) -> None:
    _accept_create(fake)
    fake.on("POST", f"/containers/{CID}/start", Answer(204))
    fake.on("GET", f"/containers/{CID}/logs", logs)
    fake.on("POST", f"/containers/{CID}/wait", Answer(200, {"StatusCode": status}))


def test_run_streams_demultiplexed_output_and_exits_with_status(
    pouch: Pouch, fake: FakeDaemon
) -> None:
    frames = encode_frame(STDOUT, b"hello\n") + encode_frame(STDERR, b"oops\n")
    chunks = [frames[:5], frames[5:13], frames[13:]]
    _attached_run(fake, Answer(chunks=chunks), status=3)
    result = pouch("run", "busybox", "sh", "-c", "echo hello; echo oops >&2; exit 3")
    assert (result.stdout, result.stderr) == ("hello\n", "oops\n")
    assert result.exit_code == 3
    wait = fake.find("POST", f"/containers/{CID}/wait")
    assert wait.query == {"condition": "next-exit"}
    logs = fake.find("GET", f"/containers/{CID}/logs")
    assert logs.query["follow"] == "1" and logs.query["stdout"] == "1"
    assert fake.requests.index(wait) < fake.paths().index(
        f"POST /containers/{CID}/start"
    )


def test_run_with_tty_copies_raw_bytes(pouch: Pouch, fake: FakeDaemon) -> None:
    _attached_run(fake, Answer(chunks=[b"raw\r\n"]), status=0)
    result = pouch("run", "-t", "busybox")
    assert result.stdout_bytes == b"raw\r\n" and result.exit_code == 0


def test_run_rm_waits_for_removal(pouch: Pouch, fake: FakeDaemon) -> None:
    _attached_run(fake, Answer(chunks=[]), status=0)
    assert pouch("run", "--rm", "busybox", "true").exit_code == 0
    wait = fake.find("POST", f"/containers/{CID}/wait")
    assert wait.query == {"condition": "removed"}


def test_run_missing_image_says_unable_to_find(pouch: Pouch, fake: FakeDaemon) -> None:
    fake.on(
        "POST",
        "/containers/create",
        Answer(404, {"message": "No such image: busybox:latest"}),
    )
    fake.on(
        "POST",
        "/images/create",
        Answer(404, {"message": "manifest for busybox:latest not found"}),
    )
    result = pouch("run", "busybox")
    assert result.exit_code == 125
    assert result.stderr == (
        "Unable to find image 'busybox:latest' locally\n"
        "Error response from daemon: manifest for busybox:latest not found\n"
    )
    assert fake.find("POST", "/images/create").query == {"fromImage": "busybox:latest"}


def test_run_start_failure_exits_125(pouch: Pouch, fake: FakeDaemon) -> None:
    _accept_create(fake)
    fake.on("POST", f"/containers/{CID}/start", Answer(500, {"message": "boom"}))
    fake.on("POST", f"/containers/{CID}/wait", Answer(200, {"StatusCode": 0}))
    result = pouch("run", "busybox")
    assert result.exit_code == 125
    assert result.stderr == "Error response from daemon: boom\n"


def test_create_conflict_is_one_line_exit_1(pouch: Pouch, fake: FakeDaemon) -> None:
    message = 'Conflict. The container name "/web" is already in use'
    fake.on("POST", "/containers/create", Answer(409, {"message": message}))
    result = pouch("create", "--name", "web", "busybox")
    assert result.exit_code == 1
    assert result.stderr == f"Error response from daemon: {message}\n"
