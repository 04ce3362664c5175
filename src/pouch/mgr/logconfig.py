"""The log drivers a container may ask for, as dockerd names them: ``json-file``
(the default) with its ``max-size`` and ``max-file`` options, and ``none``.

A ``none`` container keeps no log: ``logs`` refuses it as dockerd does. Its output
still goes through the log program, into a small buffer that rotates away what is
old, because attach reads a container's output from the log program's file (see
pouch.mgr.attach); only a follower from the end of that buffer is served. It
rotates by renaming, not by emptying the file in place, so that a follower always
sees the change.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from pouch.errors import InvalidParameter, PouchError
from pouch.types import LogSettings

JSON_FILE = "json-file"
NONE = "none"
# The none driver's buffer: its name in the container's directory, and the size and
# number of its files.
BUFFER_NAME = "output.buffer"
BUFFER_SIZE = 1024 * 1024
BUFFER_FILES = 2
# dockerd's json-file options that this daemon does not implement.
_UNSUPPORTED = ("compress", "labels", "labels-regex", "env", "env-regex", "tag")
# go-units' human sizes, as json-file's max-size takes them: decimal multiples.
_SIZE = re.compile(r"^(\d+(?:\.\d+)?) ?([kmgtp])?i?b?$", re.IGNORECASE)
_MULTIPLES = {"": 1, "k": 10**3, "m": 10**6, "g": 10**9, "t": 10**12, "p": 10**15}


class LogsNotSupported(PouchError):
    """``logs`` of a container whose driver keeps none (dockerd answers 501)."""

    status = 501

    def __init__(self) -> None:
        super().__init__("configured logging driver does not support reading")


@dataclass(frozen=True)
class LogConfig:
    driver: str
    max_size: int = -1  # bytes; -1 for a log that never rotates
    max_files: int = 1

    @property
    def keeps_log(self) -> bool:
        return self.driver == JSON_FILE


def parse(settings: LogSettings) -> LogConfig:
    """The request's ``LogConfig``, checked; a 400 names the driver or option."""
    driver = settings.Type or JSON_FILE
    options = settings.Config_
    if driver == NONE:
        for key in options:
            raise InvalidParameter(
                f"log-opt {key!r} is not allowed: the none log driver takes no options"
            )
        return LogConfig(NONE)
    if driver != JSON_FILE:
        raise InvalidParameter(
            f"log driver {driver!r} is not supported: this daemon has json-file and "
            "none"
        )
    for key in options:
        if key in _UNSUPPORTED:
            raise InvalidParameter(
                f"log-opt {key!r} of the json-file log driver is not supported: "
                "max-size and max-file are"
            )
        if key not in ("max-size", "max-file"):
            raise InvalidParameter(f"unknown log opt '{key}' for json-file log driver")
    max_size = _size(options["max-size"]) if "max-size" in options else -1
    max_files = _count(options["max-file"]) if "max-file" in options else 1
    return LogConfig(JSON_FILE, max_size, max_files)


def buffer_path(directory: Path) -> Path:
    return directory / BUFFER_NAME


def _size(text: str) -> int:
    found = _SIZE.match(text.strip())
    if found is None:
        raise InvalidParameter(
            f"invalid log-opt max-size {text!r}: expected a size such as 10m or 512k"
        )
    size = int(float(found.group(1)) * _MULTIPLES[(found.group(2) or "").lower()])
    if size <= 0:
        raise InvalidParameter("max-size must be a positive number")
    return size


def _count(text: str) -> int:
    if not text.strip().lstrip("+-").isdigit():
        raise InvalidParameter(
            f"invalid log-opt max-file {text!r}: expected a whole number"
        )
    if int(text) < 1:
        raise InvalidParameter("max-file cannot be less than 1")
    return int(text)
