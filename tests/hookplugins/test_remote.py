"""Finding plugin processes: sockets, spec files, the handshake and its errors."""

from __future__ import annotations

import asyncio
import contextlib
import json
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from pouch.hookplugins import PluginLoadError
from pouch.hookplugins.assemble import PluginConfig, assemble
from pouch.hookplugins.remote import discover, read_spec_file
from pouch.hookplugins.settings import PluginSettings
from tests.support.daemon import ROOT

SOURCE = ROOT / "tests" / "support" / "fault_plugin.py"


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Path]:
    """A plugin process on a socket outside the discovery directories."""
    shutil.copy(SOURCE, tmp_path / "fault_plugin.py")
    sock = tmp_path / "served.sock"
    proc = subprocess.Popen([sys.executable, str(tmp_path / "fault_plugin.py"),
                             str(sock)])  # fmt: skip
    deadline = time.monotonic() + 10
    while not sock.exists():
        assert time.monotonic() < deadline
        time.sleep(0.02)
    yield sock
    proc.terminate()
    proc.wait(10)


def test_sockets_then_spec_files_by_name(tmp_path: Path) -> None:
    sockets, specs = tmp_path / "run", tmp_path / "etc"
    sockets.mkdir()
    specs.mkdir()
    (sockets / "b.sock").touch()
    (sockets / "a.sock").touch()
    (sockets / "notes.txt").touch()
    (specs / "z.spec").write_text("unix:///run/z.sock\n")
    (specs / "y.json").write_text(json.dumps({"Addr": "unix:///run/y.sock",
                                              "timeout": 2}))  # fmt: skip
    found = discover(sockets, specs)
    assert [s.path for s in found] == [
        str(sockets / "a.sock"), str(sockets / "b.sock"), "unix:///run/y.sock",
        "unix:///run/z.sock"]  # fmt: skip
    assert found[2].timeout_for("pre_start") == 2.0
    assert discover(tmp_path / "none", None) == []


def test_a_bad_spec_file_names_itself(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{"Address": "x"}')
    with pytest.raises(PluginLoadError, match="bad.json: must be a JSON object with"):
        read_spec_file(bad)


def test_a_spec_file_leads_to_a_live_plugin(tmp_path: Path, served: Path) -> None:
    specs = tmp_path / "specs"
    specs.mkdir()
    (specs / "faulty.spec").write_text(f"unix://{served}")

    async def main() -> None:
        made = await assemble(PluginConfig(spec_dir=specs))
        [plugin] = made.plugins
        assert (plugin.kind, plugin.name) == ("process", f"unix://{served}")
        assert "pre_create" in plugin.points
        await plugin.close()

    asyncio.run(main())


def test_a_found_socket_nobody_serves_is_left_out(tmp_path: Path, served: Path) -> None:
    """A plugin that died and left its socket behind does not stop the daemon; the
    live one beside it is loaded. Named in the config, the same socket is an error."""
    sockets = tmp_path / "run"
    sockets.mkdir()
    (sockets / "alive.sock").symlink_to(served)
    dead = sockets / "dead.sock"
    with socket.socket(socket.AF_UNIX) as sock:
        sock.bind(str(dead))  # bound, never listened on: the file of a dead plugin

    async def main() -> None:
        made = await assemble(PluginConfig(socket_dir=sockets))
        assert [p.name for p in made.plugins] == [str(sockets / "alive.sock")]
        for plugin in made.plugins:
            await plugin.close()
        named = PluginConfig(plugins=[PluginSettings(path=str(dead))])
        with pytest.raises(PluginLoadError, match="dead.sock: activation at .* failed"):
            await assemble(named)

    asyncio.run(main())


def test_a_found_plugin_that_answers_badly_is_a_load_error(tmp_path: Path) -> None:
    """Only a socket nobody listens on is left out; a live plugin whose handshake
    is wrong stops the start, as a broken in-process plugin does."""
    sockets = tmp_path / "run"
    sockets.mkdir()
    path = sockets / "mute.sock"
    listener = socket.socket(socket.AF_UNIX)
    listener.bind(str(path))
    listener.listen()

    def answer_nonsense() -> None:
        conn, _ = listener.accept()
        conn.recv(65536)
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n[]")
        conn.close()

    thread = threading.Thread(target=answer_nonsense, daemon=True)
    thread.start()

    async def main() -> None:
        with pytest.raises(PluginLoadError, match="mute.sock: activation at"):
            await assemble(PluginConfig(socket_dir=sockets))

    try:
        asyncio.run(main())
    finally:
        thread.join(5)
        listener.close()


def test_an_answer_too_large_is_refused_without_reading_it_all(tmp_path: Path) -> None:
    from pouch.hookplugins.remote import MAX_ANSWER

    path = tmp_path / "big.sock"
    listener = socket.socket(socket.AF_UNIX)
    listener.bind(str(path))
    listener.listen()
    size = MAX_ANSWER * 4

    def answer_hugely() -> None:
        conn, _ = listener.accept()
        conn.recv(65536)
        head = f"HTTP/1.1 200 OK\r\nContent-Length: {size}\r\n\r\n".encode()
        with contextlib.suppress(OSError):  # the daemon hangs up early
            conn.sendall(head + b"{" + b" " * (size - 2) + b"}")
        conn.close()

    thread = threading.Thread(target=answer_hugely, daemon=True)
    thread.start()

    async def main() -> None:
        named = PluginConfig(plugins=[PluginSettings(path=str(path))])
        with pytest.raises(PluginLoadError, match=f"over {MAX_ANSWER} bytes"):
            await assemble(named)

    try:
        asyncio.run(main())
    finally:
        thread.join(10)
        listener.close()
