"""Out-of-process plugins on a real daemon: discovery, the example, reconnection,
and calls back into the daemon from inside a point."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.daemon import ROOT, Pouchd

EXAMPLE = ROOT / "examples" / "remote_plugin.py"


class PluginProcess:
    """A plugin process serving on ``socket``; its output goes to ``out``."""

    def __init__(self, script: Path, socket: Path, out: Path) -> None:
        self.script, self.socket, self.out = script, socket, out
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> PluginProcess:
        self.socket.parent.mkdir(parents=True, exist_ok=True)
        with open(self.out, "ab") as out:
            self.proc = subprocess.Popen(
                [sys.executable, str(self.script), str(self.socket)],
                stdout=out, stderr=out,
            )  # fmt: skip
        deadline = time.monotonic() + 10
        while not self.socket.exists():
            assert time.monotonic() < deadline, self.output()
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(10)
            self.proc = None

    def output(self) -> str:
        return self.out.read_text() if self.out.exists() else ""


@pytest.fixture
def plugin_process(tmp_path: Path) -> Iterator[object]:
    made: list[PluginProcess] = []

    def make(script: Path, socket: Path) -> PluginProcess:
        process = PluginProcess(script, socket, tmp_path / f"plugin{len(made)}.out")
        made.append(process)
        return process.start()

    yield make
    for process in made:
        process.stop()


def test_the_remote_example_gives_the_demo_result(fresh_daemon, plugin_process) -> None:  # type: ignore[no-untyped-def]  # noqa: E501
    marker = Path("/tmp/pre_start_hook")
    marker.unlink(missing_ok=True)
    d: Pouchd = fresh_daemon()
    plugin = plugin_process(EXAMPLE, d.plugin_socket_dir / "example.sock")
    d.start()
    d.load_busybox()
    assert "pre-start hook in daemon is called" in plugin.output()
    info = d.api("GET", "/info")
    assert info["PouchPlugins"] == [{"Name": str(plugin.socket), "Points": [
        "pre_start_hook", "pre_stop_hook", "pre_create", "pre_start",
        "pre_create_endpoint"]}]  # fmt: skip

    cid = d.run(["sleep", "300"])
    assert "pre create method called" in plugin.output()
    assert "pre create endpoint" in plugin.output()
    assert "pre start method called" in plugin.output()
    prestart = d.config_json(cid)["hooks"]["prestart"]
    assert prestart[0]["args"][:3] == ["pouchd", "libnetwork-setkey", cid]
    assert prestart[1] == {"path": "/usr/bin/touch",
                           "args": ["touch", "/tmp/pre_start_hook"]}  # fmt: skip
    assert len(prestart) == 2
    assert marker.exists()

    d.api("DELETE", f"/containers/{cid}", force=1)
    assert d.stop() == 0
    assert "pre-stop hook in daemon is called" in plugin.output()


def test_a_restarted_plugin_is_reached_again(fresh_daemon, plugin_process) -> None:  # type: ignore[no-untyped-def]  # noqa: E501
    d: Pouchd = fresh_daemon()
    plugin = plugin_process(EXAMPLE, d.plugin_socket_dir / "example.sock")
    d.start()
    d.load_busybox()
    plugin.stop()
    status, body = d.status_of("POST", "/containers/create", {"Image": "busybox"})
    assert status == 500 and "failed at pre_create" in body["message"]
    plugin.start()
    cid = d.create(["true"])
    assert plugin.output().count("pre create method called") == 1
    d.api("DELETE", f"/containers/{cid}")
    stats = {p["Name"]: p for p in d.api("GET", "/plugins")}[str(plugin.socket)]
    assert stats["ByPoint"]["pre_create"]["Calls"] == 2
    assert stats["ByPoint"]["pre_create"]["Errors"] == 1


def test_the_example_serves_concurrent_calls(fresh_daemon, plugin_process) -> None:  # type: ignore[no-untyped-def]  # noqa: E501
    from concurrent.futures import ThreadPoolExecutor

    d: Pouchd = fresh_daemon()
    plugin_process(EXAMPLE, d.plugin_socket_dir / "example.sock")
    d.start()
    d.load_busybox()
    body = {"Image": "busybox", "Cmd": ["true"]}
    with ThreadPoolExecutor(64) as pool:
        answers = list(pool.map(
            lambda _: d.status_of("POST", "/containers/create", body), range(128)
        ))  # fmt: skip
    assert [status for status, _ in answers] == [201] * 128, answers
    for _, created in answers:
        d.api("DELETE", f"/containers/{created['Id']}")


def test_a_socket_left_by_a_dead_plugin_does_not_stop_the_daemon(
    fresh_daemon, plugin_process
) -> None:  # type: ignore[no-untyped-def]
    d: Pouchd = fresh_daemon()
    left = d.plugin_socket_dir / "example.sock"
    left.parent.mkdir(parents=True)
    with socket.socket(socket.AF_UNIX) as sock:
        sock.bind(str(left))  # the file stays; nothing listens on it
    d.start()
    assert d.api("GET", "/plugins") == []
    assert "example.sock: activation at" in d.log()
    assert "left out until a reload finds it up" in d.log()
    # The plugin comes back on its socket; a reload takes it in.
    left.unlink()
    plugin = plugin_process(EXAMPLE, left)
    assert d.proc is not None
    d.proc.send_signal(signal.SIGHUP)
    deadline = time.monotonic() + 20
    while not d.api("GET", "/plugins"):
        assert time.monotonic() < deadline, d.log()[-2000:]
        time.sleep(0.05)
    assert [p["Name"] for p in d.api("GET", "/plugins")] == [str(left)]
    assert "pre-start hook in daemon is called" in plugin.output()


REENTRANT = """
    import http.client, json, socket

    SOCK = {sock!r}
    RECORD = {record!r}

    class UnixHTTP(http.client.HTTPConnection):
        def connect(self):
            self.sock = socket.socket(socket.AF_UNIX)
            self.sock.connect(SOCK)

    def get(path):
        conn = UnixHTTP("pouchd", timeout=5)
        conn.request("GET", path)
        return json.loads(conn.getresponse().read())

    class ContainerPlugin:
        def pre_start(self, container):
            doc = get("/containers/" + container["Id"] + "/json")
            listed = get("/containers/json?all=1")
            with open(RECORD, "w") as f:
                f.write(doc["State"]["Status"] + " " + str(len(listed)))
            return [], []
"""


def test_a_plugin_may_call_the_daemon_from_inside_a_point(
    fresh_daemon, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]  # noqa: E501
    record = tmp_path / "seen.txt"
    d: Pouchd = fresh_daemon()
    source = REENTRANT.format(sock=str(d.socket), record=str(record))
    (tmp_path / "reentrant.py").write_text(textwrap.dedent(source))
    d.plugins = [f"{tmp_path / 'reentrant.py'},timeout=8"]
    d.start()
    d.load_busybox()
    cid = d.run(["sleep", "300"])
    assert record.read_text() == "created 1"
    d.api("DELETE", f"/containers/{cid}", force=1)
