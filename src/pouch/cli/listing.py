"""The ``ps`` and ``images`` tables, column for column as docker prints them.

Scripts cut these tables by column and people read the relative times, so ids are
12 characters, commands are quoted and cut to 20, and times read "2 minutes ago".
"""

import json
import time
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from .table import ellipsis, format_table, short_id
from .units import human_duration, human_size

_PS_HEADERS = ("CONTAINER ID", "IMAGE", "COMMAND", "CREATED", "STATUS", "PORTS")
_IMAGE_HEADERS = ("REPOSITORY", "TAG", "IMAGE ID", "CREATED", "SIZE")
_COMMAND_WIDTH = 20
_NONE = "<none>"


def parse_filters(values: Iterable[str]) -> dict[str, list[str]]:
    """``-f key=value`` flags as the API's ``filters`` map (key -> values)."""
    filters: dict[str, list[str]] = {}
    for item in values:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ValueError(f"invalid filter {item!r}: expected key=value")
        filters.setdefault(key.strip().lower(), []).append(value)
    return filters


def format_containers(
    containers: Sequence[Mapping[str, Any]],
    quiet: bool = False,
    trunc: bool = True,
    now: float | None = None,
) -> str:
    """The ``ps`` output for the API's container summaries."""
    ids = [c["Id"] if not trunc else short_id(c["Id"]) for c in containers]
    if quiet:
        return "\n".join(ids)
    now = time.time() if now is None else now
    rows = [
        _container_row(c, shown_id, trunc, now)
        for c, shown_id in zip(containers, ids, strict=True)
    ]
    return format_table((*_PS_HEADERS, "NAMES"), rows)


def _container_row(
    container: Mapping[str, Any], shown_id: str, trunc: bool, now: float
) -> list[str]:
    command = container.get("Command") or ""
    if trunc:
        command = ellipsis(command, _COMMAND_WIDTH)
    return [
        shown_id,
        _image(container.get("Image") or "", trunc),
        json.dumps(command, ensure_ascii=False),
        ago(container.get("Created", 0), now),
        container.get("Status") or _status(container),
        format_ports(container.get("Ports") or ()),
        _names(container.get("Names") or (), trunc),
    ]


def _image(image: str, trunc: bool) -> str:
    """An id-looking image is shortened; a digest is dropped from a reference."""
    if image.startswith("sha256:"):
        return short_id(image) if trunc else image
    if trunc and "@" in image:
        return image.partition("@")[0]
    return image


def _status(container: Mapping[str, Any]) -> str:
    # Only for daemons that leave Status empty: the State word, capitalised.
    return str(container.get("State") or "").capitalize()


def _names(names: Iterable[str], trunc: bool) -> str:
    """Names without the leading slash; link aliases (``a/b``) only untruncated."""
    stripped = [name.removeprefix("/") for name in names]
    if trunc:
        stripped = [name for name in stripped if "/" not in name]
    return ",".join(stripped)


def format_ports(ports: Iterable[Mapping[str, Any]]) -> str:
    """``0.0.0.0:8080->80/tcp, 443/tcp``: published first as given, then exposed."""
    shown: list[str] = []
    for port in ports:
        text = _port(port)
        if text not in shown:
            shown.append(text)
    return ", ".join(shown)


def _port(port: Mapping[str, Any]) -> str:
    private = f"{port.get('PrivatePort')}/{port.get('Type', 'tcp')}"
    if not port.get("PublicPort"):
        return private
    ip = port.get("IP") or ""
    host = f"[{ip}]" if ":" in ip else ip
    return f"{host}:{port['PublicPort']}->{private}"


def ago(created: float, now: float) -> str:
    """A creation time as docker words it: ``2 minutes ago``."""
    return f"{human_duration(max(0.0, now - created))} ago"


def format_images(
    images: Sequence[Mapping[str, Any]], quiet: bool = False, now: float | None = None
) -> str:
    """The ``images`` output: one row per tag, newest first."""
    now = time.time() if now is None else now
    ordered = sorted(images, key=lambda image: -float(image.get("Created", 0)))
    rows = [row for image in ordered for row in _image_rows(image, now)]
    if quiet:
        return "\n".join(row[2] for row in rows)
    return format_table(_IMAGE_HEADERS, rows)


def _image_rows(image: Mapping[str, Any], now: float) -> list[list[str]]:
    common = [
        short_id(image.get("Id", "")),
        ago(image.get("Created", 0), now),
        human_size(image.get("Size", 0)),
    ]
    return [[repo, tag, *common] for repo, tag in _repo_tags(image)]


def _repo_tags(image: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(repository, tag) pairs; an untagged image shows its digest's name or none."""
    tags = [t for t in image.get("RepoTags") or () if t != "<none>:<none>"]
    if tags:
        return [split_reference(tag) for tag in tags]
    digests = [d for d in image.get("RepoDigests") or () if d != "<none>@<none>"]
    if digests:
        return [(digests[0].partition("@")[0], _NONE)]
    return [(_NONE, _NONE)]


def split_reference(reference: str) -> tuple[str, str]:
    """``registry:5000/name:tag`` -> (``registry:5000/name``, ``tag``)."""
    repository, sep, tag = reference.rpartition(":")
    if not sep or "/" in tag:
        return reference, _NONE
    return repository, tag
