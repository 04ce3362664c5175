"""Copying a container's output (logs, run) to this process's stdout and stderr.

Bytes are written as they arrive and flushed at once: a followed log is read by
people and by pipes that expect each line when the container writes it.
"""

import sys
from collections.abc import Iterable
from typing import BinaryIO


def copy_output(chunks: Iterable[bytes], tty: bool) -> None:
    """Raw bytes for a TTY container; demultiplexed frames otherwise."""
    stdout, stderr = sys.stdout.buffer, sys.stderr.buffer
    if tty:
        for chunk in chunks:
            _write(stdout, chunk)
        return
    from pouch.client.streams import STDERR, demux

    for stream, payload in demux(chunks):
        _write(stderr if stream == STDERR else stdout, payload)


def _write(target: BinaryIO, data: bytes) -> None:
    target.write(data)
    target.flush()
