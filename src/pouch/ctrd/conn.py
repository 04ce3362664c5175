"""One gRPC channel to containerd, its service stubs, and the call conventions.

Every namespaced call carries ``containerd-namespace``; calls made while importing
also carry ``containerd-lease`` so that what they create is not collected before
the image record refers to it. gRPC errors become ours here, in one place.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import grpc

from pouch.ctrd import pb
from pouch.ctrd.errors import translate

Metadata = tuple[tuple[str, str], ...]

# Blobs are streamed in chunks well under gRPC's default 4 MiB message limit.
_MAX_MESSAGE = 16 * 1024 * 1024
_CHANNEL_OPTIONS = [
    ("grpc.max_receive_message_length", _MAX_MESSAGE),
    ("grpc.max_send_message_length", _MAX_MESSAGE),
]


class Stubs:
    """The service stubs on one channel (generated code carries no types)."""

    def __init__(self, channel: grpc.aio.Channel) -> None:
        self.version: Any = pb.version_grpc.VersionStub(channel)
        self.content: Any = pb.content_grpc.ContentStub(channel)
        self.images: Any = pb.images_grpc.ImagesStub(channel)
        self.snapshots: Any = pb.snapshots_grpc.SnapshotsStub(channel)
        self.diff: Any = pb.diff_grpc.DiffStub(channel)
        self.leases: Any = pb.leases_grpc.LeasesStub(channel)
        self.containers: Any = pb.containers_grpc.ContainersStub(channel)
        self.tasks: Any = pb.tasks_grpc.TasksStub(channel)


class Connection:
    """A channel, its stubs and the namespace every call is made in."""

    def __init__(self, address: str, namespace: str) -> None:
        target = address if "://" in address else f"unix://{address}"
        self.address = address
        self.namespace = namespace
        self.channel = grpc.aio.insecure_channel(target, options=_CHANNEL_OPTIONS)
        self.stubs = Stubs(self.channel)

    def metadata(self, lease: str | None = None) -> Metadata:
        md: Metadata = (("containerd-namespace", self.namespace),)
        if lease:
            md += (("containerd-lease", lease),)
        return md

    async def call(
        self,
        what: str,
        method: Any,
        request: Any,
        *,
        lease: str | None = None,
        timeout: float | None = None,
    ) -> Any:
        """Make a unary call; ``what`` names it and its object in errors."""
        try:
            return await method(request, metadata=self.metadata(lease), timeout=timeout)
        except grpc.aio.AioRpcError as err:
            raise translate(err, what) from err

    async def stream(
        self, what: str, method: Any, request: Any, *, lease: str | None = None
    ) -> AsyncIterator[Any]:
        """Iterate a server-streaming call's responses."""
        call = method(request, metadata=self.metadata(lease))
        try:
            async for response in call:
                yield response
        except grpc.aio.AioRpcError as err:
            raise translate(err, what) from err

    async def close(self) -> None:
        await self.channel.close()
