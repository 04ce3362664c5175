"""The docker CLI pulls and pushes through pouchd and reads its progress stream."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.support.daemon import Pouchd
from tests.support.registry import Registry


def _docker(daemon: Pouchd, tmp: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DOCKER_HOST": daemon.host, "DOCKER_CONFIG": str(tmp)}
    return subprocess.run(
        ["docker", *args], capture_output=True, text=True, env=env, timeout=120
    )


@pytest.fixture
def docker_cli() -> None:
    if shutil.which("docker") is None:
        pytest.skip("the docker CLI is not installed")


def test_docker_push_and_pull(
    docker_cli: None, daemon: Pouchd, registry: Registry, tmp_path: Path
) -> None:
    name = f"{registry.host}/dockercli/busybox:v1"
    assert _docker(daemon, tmp_path, "tag", "busybox", name).returncode == 0
    pushed = _docker(daemon, tmp_path, "push", name)
    assert pushed.returncode == 0, pushed.stderr
    assert "v1: digest: sha256:" in pushed.stdout

    assert _docker(daemon, tmp_path, "rmi", name).returncode == 0
    pulled = _docker(daemon, tmp_path, "pull", name)
    assert pulled.returncode == 0, pulled.stderr
    assert "v1: Pulling from dockercli/busybox" in pulled.stdout
    assert f"Status: Downloaded newer image for {name}" in pulled.stdout

    missing = _docker(daemon, tmp_path, "pull", f"{registry.host}/dockercli/none:v1")
    assert missing.returncode == 1
    assert "not found" in missing.stderr
    _docker(daemon, tmp_path, "rmi", name)


def test_docker_save_load_history_and_filters(
    docker_cli: None, daemon: Pouchd, tmp_path: Path
) -> None:
    archive = tmp_path / "busybox.tar"
    saved = _docker(daemon, tmp_path, "save", "-o", str(archive), "busybox")
    assert saved.returncode == 0, saved.stderr
    assert (
        _docker(daemon, tmp_path, "tag", "busybox", "dockercli/copy:v1").returncode == 0
    )
    assert _docker(daemon, tmp_path, "rmi", "dockercli/copy:v1").returncode == 0
    loaded = _docker(daemon, tmp_path, "load", "-i", str(archive))
    assert loaded.returncode == 0, loaded.stderr
    assert "Loaded image: busybox:latest" in loaded.stdout

    listed = _docker(
        daemon, tmp_path, "images", "--filter", "reference=busybox", "--format",
        "{{.Repository}}:{{.Tag}}",
    )  # fmt: skip
    assert listed.stdout.split() == ["busybox:latest"]
    history = _docker(
        daemon, tmp_path, "history", "--format", "{{.CreatedBy}}", "busybox"
    )
    assert history.returncode == 0, history.stderr
    assert "build_busybox_image.py (busybox)" in history.stdout
