"""A small subset of Go's text/template, enough for ``inspect -f``.

Supported: literal text, ``{{.}}``, field paths ``{{.State.Pid}}``, and the
functions ``json``, ``index`` (``{{index .Config.Labels "k"}}``), ``upper``,
``lower`` and ``len``. Values print as Go prints them (``true``, ``map[a:b]``,
``<no value>`` for a missing key) because scripts compare that text.
"""

import json
import re
import shlex
from collections.abc import Callable
from typing import Any

_ACTION = re.compile(r"\{\{-?\s*(.*?)\s*-?\}\}", re.DOTALL)
_MISSING = object()


class TemplateError(ValueError):
    """The template cannot be parsed or does not fit the object."""


def render(template: str, value: Any) -> str:
    """``template`` with each action replaced by its value's text."""
    parts, position = [], 0
    for match in _ACTION.finditer(template):
        parts.append(template[position : match.start()])
        parts.append(_format(_evaluate(match.group(1), value)))
        position = match.end()
    parts.append(template[position:])
    return "".join(parts)


def _evaluate(action: str, root: Any) -> Any:
    try:
        words = shlex.split(action, posix=True)
    except ValueError as exc:
        raise TemplateError(f"bad action {{{{{action}}}}}: {exc}") from exc
    if not words:
        raise TemplateError("empty action {{}}")
    name, *args = words
    if name.startswith("."):
        if args:
            raise TemplateError(f"{name} is not a function: {{{{{action}}}}}")
        return _lookup(name, root)
    function = _FUNCTIONS.get(name)
    if function is None:
        raise TemplateError(f'function "{name}" not defined')
    return function(*[_argument(arg, root) for arg in args])


def _argument(word: str, root: Any) -> Any:
    return _lookup(word, root) if word.startswith(".") else word


def _lookup(path: str, root: Any) -> Any:
    """Follow ``.A.B.C`` through nested maps; a missing key is ``<no value>``."""
    value = root
    for key in (part for part in path.split(".") if part):
        if value is _MISSING or value is None:
            return value
        if not isinstance(value, dict):
            raise TemplateError(f"can't evaluate field {key} in {path}")
        value = value.get(key, _MISSING)
    return value


def _format(value: Any) -> str:
    """Go's default formatting of a decoded JSON value."""
    if value is _MISSING:
        return "<no value>"
    if value is None:
        return "<nil>"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        items = " ".join(f"{k}:{_format(v)}" for k, v in sorted(value.items()))
        return f"map[{items}]"
    if isinstance(value, list):
        return "[" + " ".join(_format(item) for item in value) + "]"
    return str(value)


def _json(value: Any) -> str:
    return json.dumps(None if value is _MISSING else value, ensure_ascii=False)


def _index(value: Any, *keys: Any) -> Any:
    for key in keys:
        if isinstance(value, list):
            value = value[int(key)]
        elif isinstance(value, dict):
            value = value.get(key, _MISSING)
        else:
            raise TemplateError(f"can't index item of type {type(value).__name__}")
    return value


_FUNCTIONS: dict[str, Callable[..., Any]] = {
    "json": _json,
    "index": _index,
    "upper": lambda text: _format(text).upper(),
    "lower": lambda text: _format(text).lower(),
    "len": lambda value: len(value),
}
