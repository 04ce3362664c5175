"""OCI hook files, as Podman and CRI-O read them (oci-hooks(5), version 1.0.0).

Each ``*.json`` file in a configured directory names one hook, the conditions under
which a container gets it, and its stages::

    {"version": "1.0.0",
     "hook": {"path": "/usr/bin/x", "args": ["x", "prestart"], "env": [], "timeout": 5},
     "when": {"annotations": {"^com\\.example\\.gpu$": "^yes$"}},
     "stages": ["prestart"],
     "annotations": {"io.pouch.hook.priority": "5"}}

As in Podman: a file in an earlier directory masks a file of the same name in a later
one; files apply in file-name order; every condition that ``when`` sets must hold
(``always``, ``hasBindMounts``, each annotation pattern pair matching some annotation,
one of the ``commands`` patterns matching the process's argv[0]); a condition set to
false never holds; patterns are unanchored regular expressions. Ours alone: the
optional top-level ``annotations`` may carry ``io.pouch.hook.priority``, which places
the hook among the others by the usual rule (default -1: after the network hook in
``prestart``). Podman ignores the key.
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pouch.hookplugins.ordering import STAGES, Hook
from pouch.hookplugins.results import as_hook, check_stage

VERSION = "1.0.0"
PRIORITY_ANNOTATION = "io.pouch.hook.priority"
DEFAULT_PRIORITY = -1


class HookFileError(ValueError):
    """A hook file cannot be used; the message names the file and the rule."""


@dataclass(frozen=True)
class When:
    always: bool | None = None
    has_bind_mounts: bool | None = None
    annotations: Mapping[str, str] = field(default_factory=dict)
    commands: tuple[str, ...] = ()

    def matches(
        self, annotations: Mapping[str, str], command: str, has_bind_mounts: bool
    ) -> bool:
        # As oci-hooks(5) words them, ``always`` and ``hasBindMounts`` are conditions
        # that hold when true (and, for the latter, there are bind mounts); set to
        # false, they never hold.
        if self.always is not None and not self.always:
            return False
        if self.has_bind_mounts is not None and not (
            self.has_bind_mounts and has_bind_mounts
        ):
            return False
        for key_pattern, value_pattern in self.annotations.items():
            if not any(
                re.search(key_pattern, key) and re.search(value_pattern, value)
                for key, value in annotations.items()
            ):
                return False
        if self.commands and not any(re.search(p, command) for p in self.commands):
            return False
        return True


@dataclass(frozen=True)
class HookFile:
    path: Path
    hook: Hook
    when: When
    stages: tuple[str, ...]

    def hooks(self) -> list[Hook]:
        return [dataclasses.replace(self.hook, stage=s) for s in self.stages]


@dataclass(frozen=True)
class HookSet:
    """The hook files in force, in the order they apply."""

    files: tuple[HookFile, ...] = ()

    def matching(
        self,
        annotations: Mapping[str, str],
        command: str,
        has_bind_mounts: bool,
    ) -> list[Hook]:
        return [
            hook
            for hook_file in self.files
            if hook_file.when.matches(annotations, command, has_bind_mounts)
            for hook in hook_file.hooks()
        ]


def load_dirs(dirs: Iterable[Path], stages: Collection[str] = STAGES) -> HookSet:
    """Every ``*.json`` in ``dirs`` (earlier directories mask later ones); a broken
    file raises HookFileError, so a reload can refuse the whole set."""
    chosen: dict[str, Path] = {}
    for directory in dirs:
        if not directory.is_dir():
            continue
        for path in directory.glob("*.json"):
            chosen.setdefault(path.name, path)
    files = [read_file(chosen[name], stages) for name in sorted(chosen)]
    return HookSet(tuple(files))


def read_file(path: Path, stages: Collection[str] = STAGES) -> HookFile:
    try:
        doc = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise HookFileError(f"hook file {path}: cannot be read: {exc}") from exc
    try:
        return _parse(path, doc, stages)
    except (TypeError, ValueError, re.error) as exc:
        raise HookFileError(f"hook file {path}: {exc}") from exc


def _parse(path: Path, doc: Any, stages: Collection[str]) -> HookFile:
    if not isinstance(doc, dict):
        raise TypeError("must hold a JSON object")
    if doc.get("version") != VERSION:
        raise ValueError(f"version {doc.get('version')!r}: only {VERSION} is read")
    hook = doc.get("hook")
    if not isinstance(hook, dict):
        raise TypeError("hook must be an object with path, args, env, timeout")
    base = as_hook(_priority(doc), {k: v for k, v in hook.items()}, stages)
    file_stages = doc.get("stages")
    if not isinstance(file_stages, list) or not file_stages:
        raise ValueError("stages must list at least one stage")
    checked = tuple(check_stage(base.path, s, stages) for s in file_stages)
    return HookFile(path, base, _when(doc.get("when")), checked)


def _priority(doc: dict[str, Any]) -> int:
    annotations = doc.get("annotations") or {}
    if not isinstance(annotations, dict):
        raise TypeError("annotations must be an object")
    value = annotations.get(PRIORITY_ANNOTATION, DEFAULT_PRIORITY)
    try:
        return int(value)
    except (TypeError, ValueError):
        raise ValueError(
            f"annotation {PRIORITY_ANNOTATION} {value!r} must be an integer"
        ) from None


def _when(when: Any) -> When:
    if not isinstance(when, dict) or not when:
        raise ValueError(
            "when must set at least one of always, annotations, commands, hasBindMounts"
        )
    unknown = set(when) - {"always", "annotations", "commands", "hasBindMounts"}
    if unknown:
        raise ValueError(f"when has unknown keys {sorted(unknown)}")
    annotations = when.get("annotations") or {}
    commands = when.get("commands") or []
    if not isinstance(annotations, dict) or not all(
        isinstance(v, str) for v in annotations.values()
    ):
        raise TypeError("when.annotations must map patterns to patterns")
    if not isinstance(commands, list) or not all(isinstance(c, str) for c in commands):
        raise TypeError("when.commands must be a list of patterns")
    for pattern in [*annotations, *annotations.values(), *commands]:
        re.compile(pattern)
    return When(
        always=_flag(when, "always"),
        has_bind_mounts=_flag(when, "hasBindMounts"),
        annotations=dict(annotations),
        commands=tuple(commands),
    )


def _flag(when: dict[str, Any], key: str) -> bool | None:
    value = when.get(key)
    if value is not None and not isinstance(value, bool):
        raise TypeError(f"when.{key} must be true or false")
    return value
