"""pouchd's own start-up: flags, config file, socket, an external containerd."""

from __future__ import annotations

import asyncio
import http.client
import json
import os
import socket
import stat
from pathlib import Path

import pytest

from pouch.ctrd.supervisor import ContainerdProcess
from tests.support.daemon import Pouchd


def test_socket_mode_and_version_prefix(fresh_daemon) -> None:  # type: ignore[no-untyped-def]
    d: Pouchd = fresh_daemon().start()
    assert stat.S_IMODE(os.stat(d.socket).st_mode) == 0o660
    for path in ("/version", "/v1.24/version", "/v1.43/version"):
        status, body = raw_get(d, path)
        assert status == 200 and json.loads(body)["ApiVersion"] == "1.43"
    assert raw_get(d, "/v1.40/containers/json") == (200, b"[]")


def raw_get(d: Pouchd, path: str) -> tuple[int, bytes]:
    """A request exactly as given: the client would add its own version prefix."""
    conn = http.client.HTTPConnection("localhost")
    conn.sock = socket.socket(socket.AF_UNIX)
    conn.sock.connect(str(d.socket))
    conn.request("GET", path)
    response = conn.getresponse()
    try:
        return response.status, response.read()
    finally:
        conn.close()


def test_config_file_keys_mirror_flags_and_flags_win(
    fresh_daemon, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]  # noqa: E501
    plugin = tmp_path / "p.py"
    plugin.write_text("class DaemonPlugin:\n    def pre_start_hook(self): pass\n")
    d: Pouchd = fresh_daemon()
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"plugin": [str(plugin)], "log-level": "warning"}))
    d.extra_args = ["--config-file", str(config), "--log-level", "debug"]
    d.start()
    assert [p["Name"] for p in d.api("GET", "/info")["PouchPlugins"]] == [str(plugin)]
    assert " DEBUG " in d.log()  # the flag won over the file's "warning"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ({"no-such-key": 1}, "unknown key 'no-such-key'"),
        ({"plugins": 5}, "plugins must be a string or a list of strings or objects"),
        ({"listen": [1]}, "listen must be a string or a list of strings, not [1]"),
        ({"bip": 10}, "bip must be a string, not 10"),
    ],
)
def test_a_bad_config_file_stops_the_start(  # type: ignore[no-untyped-def]
    fresh_daemon, tmp_path: Path, content: dict[str, object], message: str
) -> None:
    d: Pouchd = fresh_daemon()
    config = tmp_path / "config.json"
    config.write_text(json.dumps(content))
    d.extra_args = ["--config-file", str(config)]
    d.start(wait=False)
    assert d.proc is not None and d.proc.wait(30) == 1
    d.proc = None
    assert message in d.log()
    assert "Traceback" not in d.log()


def test_a_running_containerd_is_used_and_left_running(
    fresh_daemon, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]  # noqa: E501
    external = ContainerdProcess(tmp_path / "ext")
    asyncio.run(external.start())
    try:
        d: Pouchd = fresh_daemon()
        d.extra_args = ["--containerd", str(external.address)]
        d.start()
        d.load_busybox()
        cid = d.run(["sh", "-c", "echo via external"])
        assert d.wait(cid) == 0
        assert d.logs(cid) == b"via external\n"
        d.api("DELETE", f"/containers/{cid}")
        d.remove_all()
        assert d.stop() == 0
        assert external.running(), "pouchd stopped a containerd it did not start"
        assert not (d.home / "containerd" / "containerd.sock").exists()
    finally:
        asyncio.run(external.stop())
