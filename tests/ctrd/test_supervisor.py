"""The containerd child process: its config, start failures and stop."""

from __future__ import annotations

import asyncio
import tomllib
from pathlib import Path

import pytest

from pouch.ctrd.errors import ContainerdError
from pouch.ctrd.supervisor import ContainerdProcess

from .conftest import need_root, short_home


def test_config_keeps_everything_under_home(tmp_path: Path) -> None:
    proc = ContainerdProcess(tmp_path, log_level="warn")
    proc.write_config()
    config = tomllib.loads(proc.config_path.read_text())
    base = tmp_path / "containerd"
    assert config["version"] == 2
    assert config["root"] == str(base / "root")
    assert config["state"] == str(base / "state")
    assert config["grpc"]["address"] == str(base / "containerd.sock")
    assert config["ttrpc"]["address"] == str(base / "containerd.sock.ttrpc")
    assert config["disabled_plugins"] == ["io.containerd.grpc.v1.cri"]
    assert config["plugins"]["io.containerd.internal.v1.opt"]["path"] == str(
        base / "opt"
    )
    assert config["debug"]["level"] == "warn"


def test_start_failure_shows_the_log(tmp_path: Path) -> None:
    script = tmp_path / "fake-containerd"
    script.write_text("#!/bin/sh\necho 'failed to load config: boom' >&2\nexit 1\n")
    script.chmod(0o755)
    proc = ContainerdProcess(tmp_path, binary=str(script))
    with pytest.raises(ContainerdError, match=r"exited with status 1(.|\n)*boom"):
        asyncio.run(proc.start())
    assert not proc.running()


def test_stop_without_start_is_a_no_op(tmp_path: Path) -> None:
    asyncio.run(ContainerdProcess(tmp_path).stop())


def test_start_and_stop() -> None:
    need_root()

    async def scenario(proc: ContainerdProcess) -> None:
        await proc.start()
        assert proc.running()
        await proc.start()  # already running: nothing happens
        await proc.stop()
        assert not proc.running()

    with short_home() as home:
        proc = ContainerdProcess(home)
        try:
            asyncio.run(scenario(proc))
        finally:
            asyncio.run(proc.stop())
