"""Fixtures: a plain-HTTP registry on loopback per module, and helpers that pull
and push through a daemon's API and return its streamed messages."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pouch.client.streams import iter_json_messages
from tests.support.daemon import Pouchd
from tests.support.registry import REGISTRY_BIN, Registry


def need_registry() -> None:
    if not Path(REGISTRY_BIN).exists():
        pytest.skip("docker-registry is not installed (scripts/install.sh)")
    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed")


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Registry]:
    need_registry()
    reg = Registry(tmp_path_factory.mktemp("registry")).start()
    yield reg
    reg.stop()


def messages(
    daemon: Pouchd,
    method: str,
    path: str,
    query: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> list[dict[str, Any]]:
    stream = daemon.client.request(method, path, query, None, headers)
    return list(iter_json_messages(stream.chunks()))


def pull(daemon: Pouchd, name: str, **headers: str) -> list[dict[str, Any]]:
    return messages(daemon, "POST", "/images/create", {"fromImage": name}, headers)


def push(daemon: Pouchd, name: str, **headers: str) -> list[dict[str, Any]]:
    return messages(daemon, "POST", f"/images/{name}/push", None, headers)


def errors(msgs: list[dict[str, Any]]) -> list[str]:
    return [m["error"] for m in msgs if m.get("error")]


def statuses(msgs: list[dict[str, Any]]) -> list[str]:
    return [m.get("status", "") for m in msgs]


def load(daemon: Pouchd, archive: Path) -> str:
    with open(archive, "rb") as f:
        stream = daemon.client.request(
            "POST", "/images/load", None, f, {"Content-Type": "application/x-tar"}
        )
        return stream.read().decode()


def run_output(daemon: Pouchd, image: str, cmd: list[str]) -> tuple[int, bytes]:
    cid = daemon.create(cmd, Image=image)
    try:
        daemon.api("POST", f"/containers/{cid}/start")
        code = daemon.wait(cid)
        return code, daemon.logs(cid)
    finally:
        daemon.api("DELETE", f"/containers/{cid}", force=1)
