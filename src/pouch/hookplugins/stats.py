"""What each plugin did at each point: counts, the last error, and latency.

Counts and the last error are kept here for ``GET /plugins``; latency goes to a
Prometheus histogram (one series per plugin and point) for ``GET /metrics``.
"""

from __future__ import annotations

from dataclasses import dataclass

from prometheus_client import Histogram

CALL_SECONDS = Histogram(
    "pouch_plugin_call_seconds",
    "Time taken by one plugin call, by plugin and point (timeouts included).",
    ["plugin", "point"],
    buckets=(
        0.0005,
        0.001,
        0.0025,
        0.005,
        0.01,
        0.025,
        0.05,
        0.1,
        0.25,
        0.5,
        1,
        2.5,
        5,
        10,
        30,
    ),  # fmt: skip
)


@dataclass
class PointStats:
    calls: int = 0
    errors: int = 0
    last_error: str = ""


class Stats:
    """Per-plugin counters; a plugin that is reloaded keeps its own."""

    def __init__(self) -> None:
        self._points: dict[str, PointStats] = {}
        self.last_error = ""

    def record(self, plugin: str, point: str, seconds: float, error: str = "") -> None:
        stats = self._points.setdefault(point, PointStats())
        stats.calls += 1
        if error:
            stats.errors += 1
            stats.last_error = error
            self.last_error = f"{point}: {error}"
        CALL_SECONDS.labels(plugin, point).observe(seconds)

    @property
    def calls(self) -> int:
        return sum(s.calls for s in self._points.values())

    @property
    def errors(self) -> int:
        return sum(s.errors for s in self._points.values())

    def by_point(self) -> dict[str, PointStats]:
        return dict(self._points)
