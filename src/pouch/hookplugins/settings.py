"""How long each plugin call may take, and what its failure means.

Every call is bounded by a timeout and judged by a policy, both set per plugin and,
if wanted, per point:

- ``fail``: an exception, a timeout or an unusable result fails what the point guards
  (the daemon's start, a create, a start, an endpoint).
- ``ignore``: the same is logged and counted; the plugin's contribution is skipped.

The defaults keep the first plugin contract: ``pre_start_hook``, ``pre_create`` and
``pre_start`` fail, ``pre_create_endpoint`` and ``pre_stop_hook`` ignore.

A plugin is named by a spec string, on the command line or in the config file::

    PATH[,timeout=S][,policy=fail|ignore][,timeout.POINT=S][,policy.POINT=P]

or, in the config file only, by an object with ``path``, ``timeout``, ``policy`` and
``points`` (``{"pre_start": {"timeout": 2, "policy": "ignore"}}``).
"""

from __future__ import annotations

import enum
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

POINTS = (
    "pre_start_hook",
    "pre_stop_hook",
    "pre_create",
    "pre_start",
    "pre_create_endpoint",
)
DEFAULT_TIMEOUT = 10.0


class Policy(enum.StrEnum):
    FAIL = "fail"
    IGNORE = "ignore"


DEFAULT_POLICIES = {
    "pre_start_hook": Policy.FAIL,
    "pre_stop_hook": Policy.IGNORE,
    "pre_create": Policy.FAIL,
    "pre_start": Policy.FAIL,
    "pre_create_endpoint": Policy.IGNORE,
}


class SettingsError(ValueError):
    """A plugin spec or its settings are malformed; the message names the rule."""


@dataclass(frozen=True)
class PointSettings:
    timeout: float | None = None
    policy: Policy | None = None


@dataclass(frozen=True)
class PluginSettings:
    """A plugin's location and its call settings; unset values take the defaults."""

    path: str
    timeout: float | None = None
    policy: Policy | None = None
    points: Mapping[str, PointSettings] = field(default_factory=dict)

    def timeout_for(self, point: str) -> float:
        own = self.points.get(point, PointSettings())
        if own.timeout is not None:
            return own.timeout
        return self.timeout if self.timeout is not None else DEFAULT_TIMEOUT

    def policy_for(self, point: str) -> Policy:
        own = self.points.get(point, PointSettings())
        return own.policy or self.policy or DEFAULT_POLICIES[point]


def parse_spec(spec: str) -> PluginSettings:
    """``PATH[,key=value...]`` as settings; the path itself may not hold a comma."""
    path, *options = spec.split(",")
    if not path:
        raise SettingsError(f"plugin {spec!r}: no path before the options")
    values: dict[str, Any] = {}
    for option in options:
        key, sep, value = option.partition("=")
        if not sep:
            raise SettingsError(
                f"plugin {path}: option {option!r} must be key=value "
                "(timeout=S, policy=fail|ignore, timeout.POINT=S, policy.POINT=P)"
            )
        values[key.strip()] = value.strip()
    return _from_flat(path, values)


def from_config(entry: Any) -> PluginSettings:
    """A config file's plugin entry: a spec string or an object."""
    if isinstance(entry, str):
        return parse_spec(entry)
    if not isinstance(entry, dict) or not isinstance(entry.get("path"), str):
        raise SettingsError(
            f"plugin entry {entry!r}: must be a string or an object with a path"
        )
    unknown = set(entry) - {"path", "timeout", "policy", "points"}
    if unknown:
        raise SettingsError(f"plugin {entry['path']}: unknown keys {sorted(unknown)}")
    path = entry["path"]
    points = entry.get("points") or {}
    if not isinstance(points, dict):
        raise SettingsError(f"plugin {path}: points must be an object")
    return PluginSettings(
        path=path,
        timeout=_timeout(path, "timeout", entry.get("timeout")),
        policy=_policy(path, "policy", entry.get("policy")),
        points={p: _point(path, p, v) for p, v in points.items()},
    )


def _from_flat(path: str, values: dict[str, Any]) -> PluginSettings:
    points: dict[str, dict[str, Any]] = {}
    top: dict[str, Any] = {}
    for key, value in values.items():
        name, _, point = key.partition(".")
        if name not in ("timeout", "policy"):
            raise SettingsError(
                f"plugin {path}: unknown option {key!r}: expected timeout or policy"
            )
        if point:
            points.setdefault(point, {})[name] = value
        else:
            top[name] = value
    return PluginSettings(
        path=path,
        timeout=_timeout(path, "timeout", top.get("timeout")),
        policy=_policy(path, "policy", top.get("policy")),
        points={p: _point(path, p, v) for p, v in points.items()},
    )


def _point(path: str, point: str, value: Any) -> PointSettings:
    if point not in POINTS:
        raise SettingsError(
            f"plugin {path}: unknown point {point!r}: "
            f"expected one of {', '.join(POINTS)}"
        )
    if not isinstance(value, dict) or set(value) - {"timeout", "policy"}:
        raise SettingsError(
            f"plugin {path}: settings of {point} must be an object with timeout "
            "and policy"
        )
    return PointSettings(
        timeout=_timeout(path, f"timeout of {point}", value.get("timeout")),
        policy=_policy(path, f"policy of {point}", value.get("policy")),
    )


def _timeout(path: str, what: str, value: Any) -> float | None:
    if value is None:
        return None
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        seconds = math.nan
    if isinstance(value, bool) or not (0 < seconds < math.inf):
        raise SettingsError(
            f"plugin {path}: {what} {value!r} must be a positive number of seconds"
        )
    return seconds


def _policy(path: str, what: str, value: Any) -> Policy | None:
    if value is None:
        return None
    try:
        return Policy(value)
    except ValueError:
        raise SettingsError(
            f"plugin {path}: {what} {value!r} must be fail or ignore"
        ) from None
