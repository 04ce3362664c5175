"""What each point's result must look like, for in-process and out-of-process plugins
alike. A result of the wrong shape raises here, and counts as the plugin raising at
that point (its policy decides what follows)."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from pouch.hookplugins.ordering import STAGES, Hook

_HOOK_KEYS = {"path", "args", "env", "timeout", "stage"}


class StageUnsupported(ValueError):
    """A hook asks for a stage that the installed runtime does not run."""


def as_bytes(result: Any) -> bytes:
    if isinstance(result, bytes | bytearray | memoryview):
        return bytes(result)
    read = getattr(result, "read", None)
    if callable(read):
        data = read()
        return data.encode() if isinstance(data, str) else bytes(data)
    raise TypeError(
        f"pre_create must return a binary stream or bytes, not {type(result).__name__}"
    )


def as_hooks(result: Any, stages: Collection[str] = STAGES) -> list[Hook]:
    """``(priorities, hooks)`` as hooks; ``stages`` are those the runtime supports."""
    if not (isinstance(result, tuple | list) and len(result) == 2):
        raise TypeError("pre_start must return (priorities, hooks)")
    priorities, hooks = result
    if not isinstance(priorities, list | tuple) or not isinstance(hooks, list | tuple):
        raise TypeError("pre_start must return two lists: priorities and hooks")
    if len(priorities) != len(hooks):
        raise ValueError(
            f"pre_start returned {len(priorities)} priorities "
            f"for {len(hooks)} hooks; they must pair up"
        )
    return [as_hook(p, h, stages) for p, h in zip(priorities, hooks, strict=True)]


def as_hook(priority: Any, entry: Any, stages: Collection[str] = STAGES) -> Hook:
    if not isinstance(priority, int) or isinstance(priority, bool):
        raise TypeError(f"hook priority must be an int, not {priority!r}")
    if isinstance(entry, dict):
        return _mapping_hook(priority, entry, stages)
    words = list(entry) if isinstance(entry, list | tuple) else None
    if not words or not all(isinstance(w, str) for w in words):
        raise TypeError(
            "hook must be a list [path, argv0, arg, ...] or a mapping with path, "
            f"args, env, timeout, stage; not {entry!r}"
        )
    _check_path(words[0])
    return Hook(path=words[0], args=words[1:] or [words[0]], priority=priority)


def _mapping_hook(
    priority: int, entry: dict[str, Any], stages: Collection[str]
) -> Hook:
    unknown = set(entry) - _HOOK_KEYS
    if unknown:
        raise ValueError(
            f"hook {entry!r}: unknown keys {sorted(unknown)}; "
            f"expected {', '.join(sorted(_HOOK_KEYS))}"
        )
    path = entry.get("path")
    if not isinstance(path, str):
        raise TypeError(f"hook {entry!r}: path must be a string")
    _check_path(path)
    args = _strings(entry, "args") or [path]
    # Always set: runc gives a hook without ``env`` its own environment (Go's exec
    # with a nil Env), which is the daemon's, passed down through containerd.
    env = _strings(entry, "env") or []
    if not all("=" in item for item in env):
        raise ValueError(f"hook {path}: env entries must be NAME=value, not {env!r}")
    return Hook(
        path=path,
        args=args,
        priority=priority,
        env=env,
        timeout=_hook_timeout(path, entry.get("timeout")),
        stage=check_stage(path, entry.get("stage", "prestart"), stages),
    )


def check_stage(path: str, stage: Any, stages: Collection[str]) -> str:
    if stage not in STAGES:
        raise ValueError(
            f"hook {path}: unknown stage {stage!r}: expected one of {', '.join(STAGES)}"
        )
    if stage not in stages:
        raise StageUnsupported(
            f"hook {path}: stage {stage!r} is not supported by the installed runc "
            f"(it runs {', '.join(s for s in STAGES if s in stages)})"
        )
    return str(stage)


def _check_path(path: str) -> None:
    if not path.startswith("/"):
        raise ValueError(f"hook path must be absolute, not {path!r}")


def _strings(entry: dict[str, Any], key: str) -> list[str] | None:
    value = entry.get(key)
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise TypeError(f"hook {entry.get('path')}: {key} must be a list of strings")
    return list(value)


def _hook_timeout(path: str, value: Any) -> int | None:
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
        raise ValueError(f"hook {path}: timeout must be a positive int, not {value!r}")
    return value


def merge_endpoint(choice: Any, result: Any) -> None:
    """Folds one plugin's ``(priority, disable_resolver, generic_params)`` into
    ``choice``; checks everything before changing anything."""
    if result is None:
        return
    if not (isinstance(result, tuple | list) and len(result) == 3):
        raise TypeError(
            "pre_create_endpoint must return (priority, disable_resolver, "
            f"generic_params), not {result!r}"
        )
    priority, disable_resolver, params = result
    if not isinstance(priority, int) or isinstance(priority, bool):
        raise TypeError(f"endpoint priority must be an int, not {priority!r}")
    if params is not None and not isinstance(params, dict):
        raise TypeError(f"generic params must be a dict, not {params!r}")
    choice.priority = priority
    choice.disable_resolver = bool(disable_resolver)
    choice.generic_params.update(params or {})
