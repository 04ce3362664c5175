"""Refusing layers that would write outside their snapshot.

A layer is a tar stream that containerd's applier unpacks into a snapshot. A
crafted one can name ``../../etc/x``, an absolute path, a hard link to a file
outside, or a symbolic link that climbs out and then an entry written through
it. containerd resolves names within the root and so already defuses much of
this, but silently; the rule here is stricter and loud: any such entry refuses
the whole layer before ``Diff.Apply`` sees it, and the error names the entry.

The blob is read once more for this, streamed from the content store through
``tarfile`` in stream mode (which undoes gzip itself) on a worker thread.
"""

from __future__ import annotations

import asyncio
import io
import posixpath
import tarfile
from collections.abc import AsyncIterator
from typing import IO

from pouch.ctrd.errors import ContainerdError


class LayerEscape(ContainerdError):
    """A layer entry would land outside the snapshot; the message names it."""


def check_entry(member: tarfile.TarInfo, links: set[str]) -> str | None:
    """Why ``member`` escapes the root, or None. ``links`` gathers the layer's
    symbolic links so that later entries written through them are caught."""
    name = member.name
    if name.startswith("/"):
        return "absolute path"
    clean = posixpath.normpath(name)
    if _climbs(clean):
        return "path leaves the root"
    parts = clean.split("/")
    for i in range(1, len(parts)):
        if "/".join(parts[:i]) in links:
            return f"path goes through the symbolic link {'/'.join(parts[:i])!r}"
    if member.islnk():
        target = member.linkname
        if target.startswith("/") or _climbs(posixpath.normpath(target)):
            return f"hard link to {target!r} outside the root"
    if member.issym():
        target = member.linkname
        resolved = posixpath.normpath(posixpath.join(posixpath.dirname(clean), target))
        if not target.startswith("/") and _climbs(resolved):
            return f"symbolic link to {target!r} points outside the root"
        links.add(clean)
    return None


def _climbs(path: str) -> bool:
    return path == ".." or path.startswith("../")


async def check_layer(digest: str, chunks: AsyncIterator[bytes]) -> None:
    """Raise LayerEscape if any entry of the layer escapes its root."""
    loop = asyncio.get_running_loop()
    reader: IO[bytes] = io.BufferedReader(_AsyncReader(chunks, loop), 1024 * 1024)
    try:
        found = await asyncio.to_thread(_scan, reader)
    finally:
        aclose = getattr(chunks, "aclose", None)
        if aclose is not None:
            await aclose()
    if found is not None:
        entry, why = found
        raise LayerEscape(f"layer {digest}: entry {entry!r} refused: {why}")


def _scan(reader: IO[bytes]) -> tuple[str, str] | None:
    links: set[str] = set()
    try:
        with tarfile.open(fileobj=reader, mode="r|*") as tar:
            for member in tar:
                why = check_entry(member, links)
                if why is not None:
                    return member.name, why
    except tarfile.TarError as err:
        return "", f"not a readable tar stream: {err}"
    return None


class _AsyncReader(io.RawIOBase):
    """A blocking reader, for a worker thread, over an async iterator of chunks
    that runs on the event loop."""

    def __init__(
        self, chunks: AsyncIterator[bytes], loop: asyncio.AbstractEventLoop
    ) -> None:
        self._chunks = chunks
        self._loop = loop
        self._buffer = b""
        self._done = False

    def readable(self) -> bool:
        return True

    def readinto(self, b: bytearray | memoryview) -> int:  # type: ignore[override]
        while not self._buffer and not self._done:
            future = asyncio.run_coroutine_threadsafe(self._next(), self._loop)
            chunk = future.result()
            if chunk is None:
                self._done = True
            else:
                self._buffer = chunk
        n = min(len(b), len(self._buffer))
        b[:n] = self._buffer[:n]
        self._buffer = self._buffer[n:]
        return n

    async def _next(self) -> bytes | None:
        try:
            return await anext(self._chunks)
        except StopAsyncIteration:
            return None
