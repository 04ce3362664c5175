"""Plugin output goes to the daemon's log.

Plugins run inside the daemon and print as they please; the daemon itself never
writes to stdout, so stdout is replaced with a writer that logs each complete line.
"""

from __future__ import annotations

import io
import logging
import sys
import threading


class _LogWriter(io.TextIOBase):
    def __init__(self, logger: logging.Logger) -> None:
        self._logger = logger
        self._pending = ""
        self._lock = threading.Lock()

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        with self._lock:
            self._pending += text
            *lines, self._pending = self._pending.split("\n")
        for line in lines:
            self._logger.info("%s", line)
        return len(text)

    def flush(self) -> None:
        with self._lock:
            line, self._pending = self._pending, ""
        if line:
            self._logger.info("%s", line)


def capture_stdout(logger: logging.Logger) -> None:
    sys.stdout = _LogWriter(logger)
