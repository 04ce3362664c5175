"""containerd's content store and leases: streaming blobs in and out.

A blob is written as one bidirectional stream: STAT opens the ingest, each WRITE
carries the offset it starts at, and COMMIT carries the final offset, the expected
digest and the labels. containerd answers every message, and checks size and digest
at COMMIT; a COMMIT at offset 0 after data would truncate the blob and fail. An
interrupted ingest stays behind until it is aborted, so failures abort it.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import grpc
from google.protobuf import field_mask_pb2

from pouch.ctrd.conn import Connection
from pouch.ctrd.errors import ContainerdError, ContainerdNotFound, translate
from pouch.ctrd.imagespec import LABEL_GC_EXPIRE, Descriptor
from pouch.ctrd.pb import content_pb2, leases_pb2

log = logging.getLogger("pouch.ctrd")

_Action = content_pb2.WriteAction
_END_TIMEOUT = 5.0
_ABORT_ATTEMPTS = 5


class ContentStore:
    """Blobs in containerd's content store, within this connection's namespace."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.stub = conn.stubs.content

    async def labels(self, digest: str) -> dict[str, str] | None:
        """A blob's labels, or None if containerd does not have the blob."""
        try:
            resp = await self.conn.call(
                f"content info {digest}",
                self.stub.Info,
                content_pb2.InfoRequest(digest=digest),
            )
        except ContainerdNotFound:
            return None
        return dict(resp.info.labels)

    async def set_labels(self, digest: str, labels: dict[str, str]) -> None:
        """Add or replace the given labels, keeping the blob's others."""
        if not labels:
            return
        info = content_pb2.Info(digest=digest, labels=labels)
        mask = field_mask_pb2.FieldMask(paths=[f"labels.{k}" for k in labels])
        await self.conn.call(
            f"content update {digest}",
            self.stub.Update,
            content_pb2.UpdateRequest(info=info, update_mask=mask),
        )

    async def read(self, digest: str) -> bytes:
        """A whole blob; only for small ones (manifests, configs)."""
        parts = []
        req = content_pb2.ReadContentRequest(digest=digest)
        async for resp in self.conn.stream(
            f"content read {digest}", self.stub.Read, req
        ):
            parts.append(resp.data)
        return b"".join(parts)

    async def write(
        self,
        desc: Descriptor,
        chunks: AsyncIterator[bytes],
        *,
        labels: dict[str, str],
        lease: str | None,
    ) -> None:
        """Stream a blob in; if it exists already just set its labels."""
        ref = f"pouch-{desc.digest}-{secrets.token_hex(4)}"
        call = self.stub.Write(metadata=self.conn.metadata(lease))
        what = f"content write {desc.digest}"
        try:
            offset = await self._send(call, desc, ref, _Action.STAT, 0)
            async for chunk in chunks:
                await self._send(call, desc, ref, _Action.WRITE, offset, data=chunk)
                offset += len(chunk)
            await self._send(call, desc, ref, _Action.COMMIT, offset, labels=labels)
            await call.done_writing()
        except grpc.aio.AioRpcError as err:
            call.cancel()
            if err.code() == grpc.StatusCode.ALREADY_EXISTS:
                await self.set_labels(desc.digest, labels)
                return
            await self.abort(ref)
            raise translate(err, what) from err
        except BaseException:
            await _end_stream(call)
            await self.abort(ref)
            raise
        log.debug("wrote blob %s (%d bytes)", desc.digest, desc.size)

    async def _send(
        self,
        call: grpc.aio.StreamStreamCall,
        desc: Descriptor,
        ref: str,
        action: int,
        offset: int,
        *,
        data: bytes = b"",
        labels: dict[str, str] | None = None,
    ) -> int:
        """Send one message and read its answer; returns the answered offset."""
        req = content_pb2.WriteContentRequest(
            action=action,
            ref=ref,
            total=desc.size,
            expected=desc.digest,
            offset=offset,
            data=data,
            labels=labels or {},
        )
        await call.write(req)
        resp = await call.read()
        if resp is grpc.aio.EOF:
            raise ContainerdError(f"content write {desc.digest}: stream ended early")
        return int(resp.offset)

    async def abort(self, ref: str) -> None:
        """Drop an unfinished ingest; best effort, the ref may not exist.

        After a cancelled stream containerd may still be closing the ingest, and
        the abort fails meanwhile: it is tried a few times.
        """
        for attempt in range(_ABORT_ATTEMPTS):
            try:
                await self.conn.call(
                    f"content abort {ref}",
                    self.stub.Abort,
                    content_pb2.AbortRequest(ref=ref),
                )
                return
            except ContainerdNotFound:
                return
            except Exception as err:  # noqa: BLE001 - cleanup must not mask the cause
                log.debug("abort of ingest %s failed: %s", ref, err)
            await asyncio.sleep(0.05 * (attempt + 1))


async def _end_stream(call: grpc.aio.StreamStreamCall) -> None:
    """End a write stream that our side gave up on, and wait until containerd
    has ended it too.

    A cancelled stream can leave containerd still writing into the ingest
    directory when the abort arrives; the abort then fails ("directory not
    empty") after forgetting the ingest, and its files stay. Half-closing lets
    containerd's writer finish (it closes the ingest without committing) before
    the abort; a stream that does not end in time is cancelled all the same.
    """
    try:
        async with asyncio.timeout(_END_TIMEOUT):
            await call.done_writing()
            while await call.read() is not grpc.aio.EOF:
                pass
    except (Exception, asyncio.CancelledError) as err:
        # Also when the task was cancelled inside a gRPC await, which cancels
        # the call itself: the caller aborts the ingest next, and re-raises.
        log.debug("ending a write stream: %r", err)
        call.cancel()


class Leases:
    """Leases keep what an operation creates until the operation is done."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.stub = conn.stubs.leases

    async def create(self, purpose: str, expire: timedelta) -> str:
        """A new lease that containerd drops by itself after ``expire``."""
        lease_id = f"pouch-{purpose}-{secrets.token_hex(6)}"
        until = datetime.now(UTC) + expire
        labels = {LABEL_GC_EXPIRE: until.strftime("%Y-%m-%dT%H:%M:%SZ")}
        await self.conn.call(
            f"lease create {lease_id}",
            self.stub.Create,
            leases_pb2.CreateRequest(id=lease_id, labels=labels),
        )
        return lease_id

    async def add_content(self, lease_id: str, digest: str) -> None:
        """Hold a blob that existed before the lease."""
        resource = leases_pb2.Resource(id=digest, type="content")
        await self.conn.call(
            f"lease {lease_id} add {digest}",
            self.stub.AddResource,
            leases_pb2.AddResourceRequest(id=lease_id, resource=resource),
        )

    async def delete(self, lease_id: str) -> None:
        try:
            await self.conn.call(
                f"lease delete {lease_id}",
                self.stub.Delete,
                leases_pb2.DeleteRequest(id=lease_id),
            )
        except ContainerdNotFound:
            pass
