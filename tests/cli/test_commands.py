"""The other commands against the fake daemon: requests sent, output, failures."""

import json
import os
from pathlib import Path

from pouch.client.streams import STDERR, STDOUT, encode_frame

from .conftest import Pouch
from .fakedaemon import Answer, FakeDaemon


def test_unreachable_daemon_is_one_line_and_exit_1(tmp_path: Path) -> None:
    host = f"unix://{tmp_path}/absent.sock"
    result = Pouch(host)("ps")
    assert result.exit_code == 1
    assert result.stderr == (
        f"Cannot connect to the pouchd daemon at {host}: is pouchd running?\n"
    )


def test_malformed_host_is_one_line_and_exit_1() -> None:
    result = Pouch("ftp://example")("ps")
    assert result.exit_code == 1
    assert result.stderr.startswith("invalid host 'ftp://example': expected unix:///")
    assert result.stderr.count("\n") == 1


def test_host_comes_from_the_environment(fake: FakeDaemon) -> None:
    from click.testing import CliRunner

    from pouch.cli.main import cli

    fake.on("GET", "/containers/json", Answer(body=[]))
    env = {"POUCH_HOST": f"unix://{fake.socket_path}"}
    result = CliRunner(env=env).invoke(cli, ["ps", "-q"])
    assert result.exit_code == 0
    assert fake.paths() == ["GET /containers/json"]


def test_requests_carry_the_api_version_prefix(pouch: Pouch, fake: FakeDaemon) -> None:
    fake.on("GET", "/containers/json", Answer(body=[]))
    pouch("ps")
    # The fake strips exactly "/v1.43"; an unprefixed path would not match.
    assert [request.path for request in fake.requests] == ["/containers/json"]


def test_ps_sends_all_and_filters(pouch: Pouch, fake: FakeDaemon) -> None:
    fake.on("GET", "/containers/json", Answer(body=[]))
    result = pouch("ps", "-a", "-f", "status=exited", "-f", "name=web")
    assert result.exit_code == 0
    query = fake.find("GET", "/containers/json").query
    assert query["all"] == "1"
    assert json.loads(query["filters"]) == {"status": ["exited"], "name": ["web"]}


def test_start_reports_each_container(pouch: Pouch, fake: FakeDaemon) -> None:
    fake.on("POST", "/containers/a/start", Answer(204))
    fake.on("POST", "/containers/c/start", Answer(304))
    fake.on(
        "POST", "/containers/b/start", Answer(404, {"message": "No such container: b"})
    )
    result = pouch("start", "a", "b", "c")
    assert result.stdout == "a\nc\n"
    assert result.stderr == "Error response from daemon: No such container: b\n"
    assert result.exit_code == 1


def test_stop_kill_restart_rm_pass_their_flags(pouch: Pouch, fake: FakeDaemon) -> None:
    for path in ("stop", "kill", "restart"):
        fake.on("POST", f"/containers/x/{path}", Answer(204))
    fake.on("DELETE", "/containers/x", Answer(204))
    assert pouch("stop", "-t", "3", "x").stdout == "x\n"
    assert pouch("kill", "-s", "TERM", "x").exit_code == 0
    assert pouch("restart", "-t", "0", "x").exit_code == 0
    assert pouch("rm", "-f", "-v", "x").exit_code == 0
    assert fake.find("POST", "/containers/x/stop").query == {"t": "3"}
    assert fake.find("POST", "/containers/x/kill").query == {"signal": "TERM"}
    assert fake.find("POST", "/containers/x/restart").query == {"t": "0"}
    assert fake.find("DELETE", "/containers/x").query == {"force": "1", "v": "1"}


def test_rm_of_running_container_shows_the_daemon_message(
    pouch: Pouch, fake: FakeDaemon
) -> None:
    message = (
        "cannot remove container x: container is running: "
        "stop the container before removing or force remove"
    )
    fake.on("DELETE", "/containers/x", Answer(409, {"message": message}))
    result = pouch("rm", "x")
    assert (result.exit_code, result.stderr) == (
        1,
        f"Error response from daemon: {message}\n",
    )


def test_wait_prints_exit_codes(pouch: Pouch, fake: FakeDaemon) -> None:
    fake.on("POST", "/containers/a/wait", Answer(body={"StatusCode": 0}))
    fake.on("POST", "/containers/b/wait", Answer(body={"StatusCode": 137}))
    assert pouch("wait", "a", "b").stdout == "0\n137\n"


def test_logs_demultiplexes_and_passes_options(pouch: Pouch, fake: FakeDaemon) -> None:
    fake.on("GET", "/containers/x/json", Answer(body={"Config": {"Tty": False}}))
    body = encode_frame(STDOUT, b"out\n") + encode_frame(STDERR, b"err\n")
    fake.on("GET", "/containers/x/logs", Answer(chunks=[body[:9], body[9:]]))
    result = pouch("logs", "-f", "--tail", "5", "-t", "x")
    assert (result.stdout, result.stderr) == ("out\n", "err\n")
    query = fake.find("GET", "/containers/x/logs").query
    assert query == {
        "follow": "1",
        "stdout": "1",
        "stderr": "1",
        "tail": "5",
        "timestamps": "1",
    }


def test_inspect_falls_back_to_images(pouch: Pouch, fake: FakeDaemon) -> None:
    fake.on("GET", "/images/busybox:latest/json", Answer(body={"Id": "sha256:1"}))
    result = pouch("inspect", "busybox:latest")
    assert result.exit_code == 0
    assert result.stdout == '[\n    {\n        "Id": "sha256:1"\n    }\n]\n'
    assert fake.paths() == [
        "GET /containers/busybox:latest/json",
        "GET /images/busybox:latest/json",
    ]


def test_inspect_format_and_missing_objects(pouch: Pouch, fake: FakeDaemon) -> None:
    fake.on("GET", "/containers/a/json", Answer(body={"State": {"Pid": 42}}))
    result = pouch("inspect", "-f", "{{.State.Pid}}", "a", "ghost")
    assert result.stdout == "42\n"
    assert result.stderr == "Error: No such object: ghost\n"
    assert result.exit_code == 1


def test_images_and_rmi(pouch: Pouch, fake: FakeDaemon) -> None:
    image = {"Id": "sha256:" + "9" * 64, "RepoTags": ["busybox:latest"], "Size": 1}
    fake.on("GET", "/images/json", Answer(body=[image]))
    fake.on(
        "DELETE",
        "/images/busybox",
        Answer(body=[{"Untagged": "busybox:latest"}, {"Deleted": image["Id"]}]),
    )
    assert pouch("images", "-q").stdout == "9" * 12 + "\n"
    assert pouch("images").stdout.splitlines()[1].split()[:3] == [
        "busybox",
        "latest",
        "9" * 12,
    ]
    result = pouch("rmi", "-f", "busybox")
    assert result.stdout == f"Untagged: busybox:latest\nDeleted: {image['Id']}\n"
    assert fake.find("DELETE", "/images/busybox").query == {"force": "1"}


def test_load_streams_the_tarball_and_prints_messages(
    pouch: Pouch, fake: FakeDaemon, tmp_path: Path
) -> None:
    tarball = tmp_path / "busybox.tar"
    tarball.write_bytes(os.urandom(200_000))
    messages = b'{"stream":"Loaded image: busybox:latest\\n"}\n'
    fake.on("POST", "/images/load", Answer(chunks=[messages[:10], messages[10:]]))
    result = pouch("load", "-i", str(tarball))
    assert result.exit_code == 0
    assert result.stdout == "Loaded image: busybox:latest\n"
    request = fake.find("POST", "/images/load")
    assert request.headers["content-type"] == "application/x-tar"
    assert request.headers["transfer-encoding"] == "chunked"
    assert request.body == tarball.read_bytes()


def test_load_error_message_fails(
    pouch: Pouch, fake: FakeDaemon, tmp_path: Path
) -> None:
    (tmp_path / "bad.tar").write_bytes(b"x")
    fake.on("POST", "/images/load", Answer(body={"error": "invalid tar header"}))
    result = pouch("load", "-i", str(tmp_path / "bad.tar"))
    assert (result.exit_code, result.stderr) == (1, "invalid tar header\n")


def test_version_prints_client_then_server(pouch: Pouch, fake: FakeDaemon) -> None:
    fake.on(
        "GET",
        "/version",
        Answer(
            body={"Version": "0.1.0", "ApiVersion": "1.43", "MinAPIVersion": "1.24"}
        ),
    )
    lines = pouch("version").stdout.splitlines()
    assert lines[0] == "Client:"
    assert " API version:       1.43" in lines
    assert lines[lines.index("Server:") + 1 :][:3] == [
        " Engine:",
        "  Version:          0.1.0",
        "  API version:      1.43 (minimum version 1.24)",
    ]


def test_info_lists_plugins_and_their_points(pouch: Pouch, fake: FakeDaemon) -> None:
    plugins = [
        {"Name": "envlimits", "Points": ["pre_create"]},
        {"Name": "netprep", "Points": ["pre_start", "pre_create_endpoint"]},
    ]
    info = {"Containers": 2, "ContainersRunning": 1, "PouchPlugins": plugins}
    fake.on("GET", "/info", Answer(body=info))
    output = pouch("info").stdout
    assert " Containers: 2\n  Running: 1\n" in output
    assert (
        " Plugins:\n  envlimits: pre_create\n  netprep: pre_start pre_create_endpoint\n"
        in output
    )


def test_daemon_error_without_json_body_still_one_line(
    pouch: Pouch, fake: FakeDaemon
) -> None:
    fake.on(
        "GET", "/info", Answer(500, b"internal failure\n", content_type="text/plain")
    )
    result = pouch("info")
    assert result.exit_code == 1
    assert result.stderr == "Error response from daemon: internal failure\n"
