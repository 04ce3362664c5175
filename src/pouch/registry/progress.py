"""Docker's streamed progress messages, as ``docker pull`` and ``push`` draw them.

Each message is one JSON object: ``status``, and for a layer its short ``id``
and ``progressDetail`` (``current``/``total`` bytes) with a text bar in
``progress``. The docker CLI keeps one line per ``id``; a message with
``error``/``errorDetail`` ends the stream as a failure.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

Message = dict[str, Any]
Emit = Callable[[Message], Awaitable[None]]

_BAR = 50


def short_id(digest: str) -> str:
    return digest.split(":", 1)[-1][:12]


def status(text: str, id: str | None = None) -> Message:
    message: Message = {"status": text}
    if id is not None:
        message["progressDetail"] = {}
        message["id"] = id
    return message


def progress(text: str, id: str, current: int, total: int) -> Message:
    return {
        "status": text,
        "progressDetail": {"current": current, "total": total},
        "progress": bar(current, total),
        "id": id,
    }


def error(text: str) -> Message:
    return {"errorDetail": {"message": text}, "error": text}


def bar(current: int, total: int) -> str:
    """``[=====>     ]  1.2MB/3.4MB``, as the docker daemon draws it."""
    if total <= 0:
        return f"{_size(current)}"
    filled = min(_BAR, int(_BAR * current / total))
    arrow = "=" * max(filled - 1, 0) + (">" if filled < _BAR else "=")
    if filled == 0:
        arrow = ">"
    return f"[{arrow.ljust(_BAR)}] {_size(current)}/{_size(total)}"


def _size(n: float) -> str:
    for unit in ("B", "kB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{n:.4g}{unit}" if unit != "B" else f"{int(n)}B"
        n /= 1000
    return f"{n}B"


class Throttle:
    """Lets a layer's ``Downloading`` message through at most every ``step`` bytes,
    so a fast pull does not spend its time writing progress."""

    def __init__(self, total: int, parts: int = 40) -> None:
        self.step = max(total // parts, 256 * 1024)
        self.next = 0

    def due(self, current: int) -> bool:
        if current >= self.next:
            self.next = current + self.step
            return True
        return False
