"""The interfaces ``mgr`` needs from the layers below: what a fake must implement.

The real implementations are ``pouch.ctrd.client.Containerd`` and
``pouch.network.controller.NetworkController``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Protocol


class ImageInfo(Protocol):
    name: str
    id: str
    manifest_digest: str
    config: dict[str, Any]
    chain_id: str
    size: int
    created: str


class ExitInfo(Protocol):
    code: int


class TaskView(Protocol):
    pid: int
    status: str


class Runtime(Protocol):
    async def import_archive(self, path: Path) -> list[Any]: ...
    async def list_images(self) -> list[Any]: ...
    async def get_image(self, name: str) -> Any: ...
    async def delete_image(self, name: str) -> None: ...
    async def tag_image(self, src: str, new_name: str) -> Any: ...
    def image_store(self) -> Any: ...
    async def prepare_rootfs(self, key: str, parent_chain_id: str) -> list[Any]: ...
    async def rootfs_mounts(self, key: str) -> list[Any] | None: ...
    async def remove_rootfs(self, key: str) -> None: ...
    async def create_container(
        self,
        id: str,
        spec: dict[str, Any],
        snapshot_key: str,
        image_name: str,
        labels: dict[str, str],
        runc_root: str,
    ) -> None: ...
    async def delete_container(self, id: str) -> None: ...
    async def create_task(
        self,
        id: str,
        mounts: list[Any],
        stdout: str,
        stderr: str,
        stdin: str = "",
        terminal: bool = False,
    ) -> int: ...
    async def start_task(self, id: str) -> None: ...
    async def wait_task(self, id: str) -> Any: ...
    async def kill_task(self, id: str, signal: int, all: bool = False) -> None: ...
    async def delete_task(self, id: str) -> Any: ...
    async def get_task(self, id: str) -> Any: ...
    async def resize_pty(
        self, id: str, width: int, height: int, exec_id: str = ""
    ) -> None: ...
    async def close_process_stdin(self, id: str, exec_id: str = "") -> None: ...


class Endpoint(Protocol):
    id: str
    ip: str
    prefix_len: int
    gateway: str
    mac: str
    priority: int
    disable_resolver: bool
    generic_params: dict[str, Any]


class Network(Protocol):
    id: str
    name: str
    driver: str


class Networks(Protocol):
    controller_id: str

    def get_network(self, name_or_id: str) -> Any: ...
    async def create_endpoint(
        self,
        container_id: str,
        network: str,
        *,
        priority: int = 0,
        disable_resolver: bool = False,
        generic_params: dict[str, Any] | None = None,
        ip: str | None = None,
        aliases: list[str] | None = None,
        mac: str | None = None,
    ) -> Any: ...
    async def join(self, container_id: str, pid: int) -> None: ...
    async def disconnect(
        self, container_id: str, network: str, pid: int | None
    ) -> None: ...
    async def publish(self, container_id: str, requests: list[Any]) -> list[Any]: ...
    async def readopt(
        self, container_id: str, pid: int, options: Any = None
    ) -> None: ...
    def published(self, container_id: str) -> list[Any]: ...
    def refresh_resolv(self, container_id: str, path: Path) -> None: ...
    async def release(self, container_id: str) -> None: ...
    def write_container_files(
        self,
        container_id: str,
        dir: Path,
        hostname: str,
        mode: str,
        options: Any = None,  # pouch.network.files.FileOptions
    ) -> dict[str, Path]: ...
