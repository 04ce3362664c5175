"""The daemon's event stream, as ``GET /events`` shows it.

Events are kept in a bounded ring for ``since`` replays and handed to each live
subscriber's queue. They live in memory only: as with dockerd, a restarted daemon
starts with an empty history.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

_HISTORY = 1024


@dataclass(frozen=True)
class Event:
    type: str  # container, image, network, ...
    action: str  # create, start, die, destroy, ...
    id: str
    attributes: dict[str, str] = field(default_factory=dict)
    time_ns: int = field(default_factory=time.time_ns)

    def to_api(self) -> dict[str, Any]:
        doc: dict[str, Any] = {
            "Type": self.type,
            "Action": self.action,
            "Actor": {"ID": self.id, "Attributes": dict(self.attributes)},
            "scope": "local",
            "time": self.time_ns // 1_000_000_000,
            "timeNano": self.time_ns,
        }
        # The fields of the old event format, which dockerd still fills for these.
        if self.type == "container":
            doc.update(
                status=self.action,
                id=self.id,
                **{"from": self.attributes.get("image", "")},
            )
        elif self.type == "image":
            doc.update(status=self.action, id=self.id)
        return doc

    def matches(self, filters: dict[str, list[str]]) -> bool:
        """Docker's rule: every filter key given must match one of its values."""
        for key, values in filters.items():
            if not values:
                continue
            if not any(self._match_one(key, v) for v in values):
                return False
        return True

    def _match_one(self, key: str, value: str) -> bool:
        if key == "type":
            return self.type == value
        if key in ("event", "action"):
            return self.action == value or self.action.split(":")[0] == value
        if key in ("container", "image", "network"):
            if key != self.type and not (key == "image" and self.type == "container"):
                return False
            if key == "image" and self.type == "container":
                return self.attributes.get("image") == value
            return (
                self.id == value
                or self.id.startswith(value)
                or self.attributes.get("name") == value
            )
        if key == "label":
            name, _, wanted = value.partition("=")
            have = self.attributes.get(name)
            return have is not None and (not wanted or have == wanted)
        return True  # unknown keys were refused before the stream opened


class EventBus:
    def __init__(self) -> None:
        self._history: deque[Event] = deque(maxlen=_HISTORY)
        self._subscribers: set[asyncio.Queue[Event]] = set()

    def emit(
        self, type: str, action: str, id: str, attributes: dict[str, str] | None = None
    ) -> None:
        event = Event(type, action, id, dict(attributes or {}))
        self._history.append(event)
        for queue in self._subscribers:
            queue.put_nowait(event)

    def subscribe(self, since_ns: int | None, until_ns: int | None) -> Subscription:
        """Live events are kept for the subscriber from this call on, so nothing
        emitted between a client's request and its first read is lost."""
        queue: asyncio.Queue[Event] = asyncio.Queue()
        self._subscribers.add(queue)
        past = [
            event
            for event in self._history
            if since_ns is not None
            and event.time_ns >= since_ns
            and (until_ns is None or event.time_ns <= until_ns)
        ]
        return Subscription(self, queue, past, until_ns)


class Subscription:
    """Past events from ``since`` on, then live ones until ``until`` passes."""

    def __init__(
        self,
        bus: EventBus,
        queue: asyncio.Queue[Event],
        past: list[Event],
        until_ns: int | None,
    ) -> None:
        self._bus, self._queue, self._past, self._until = bus, queue, past, until_ns

    def close(self) -> None:
        self._bus._subscribers.discard(self._queue)

    async def events(self) -> AsyncIterator[Event]:
        try:
            for event in self._past:
                yield event
            while True:
                timeout = None
                if self._until is not None:
                    timeout = (self._until - time.time_ns()) / 1e9
                    if timeout <= 0:
                        return
                try:
                    event = await asyncio.wait_for(self._queue.get(), timeout)
                except TimeoutError:
                    return
                yield event
        finally:
            self.close()


def parse_time(text: str | None, name: str) -> int | None:
    """``since``/``until``: seconds since the epoch, with an optional fraction."""
    from pouch.errors import InvalidParameter

    if not text:
        return None
    try:
        seconds, _, frac = text.partition(".")
        return int(seconds) * 1_000_000_000 + int(frac[:9].ljust(9, "0") or 0)
    except ValueError as exc:
        raise InvalidParameter(
            f"invalid {name}={text!r}: expected seconds since the epoch"
        ) from exc
