"""Image documents made from scratch: a rootfs import's archive, and history rows.

``docker import`` takes a bare filesystem tarball; here it becomes a one-layer
docker-archive (layer, config, manifest.json) that the ordinary import path
loads, so an imported image is stored, checked and unpacked like a loaded one.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import shlex
import tarfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pouch.ctrd import reference
from pouch.ctrd.imagespec import host_platform
from pouch.mgr.records import parse_rfc3339

_CHUNK = 1024 * 1024


def rootfs_archive(
    tarball: Path, out: Path, name: str, message: str, changes: list[str]
) -> None:
    """Write a docker-archive at ``out`` holding ``tarball`` as the one layer,
    named ``name`` (no name: an image that loads without one)."""
    diff_id = _copy_uncompressed(tarball, out.with_suffix(".layer"))
    try:
        config = _config(diff_id, message, changes)
        config_bytes = json.dumps(config).encode()
        manifest = [
            {
                "Config": "config.json",
                "RepoTags": [reference.familiar(name)] if name else [],
                "Layers": ["layer.tar"],
            }
        ]
        with tarfile.open(out, "w") as tar:
            _add_bytes(tar, "config.json", config_bytes)
            _add_bytes(tar, "manifest.json", json.dumps(manifest).encode())
            tar.add(out.with_suffix(".layer"), "layer.tar")
    finally:
        out.with_suffix(".layer").unlink(missing_ok=True)


def _copy_uncompressed(tarball: Path, dest: Path) -> str:
    """Copy the layer, gunzipped if need be; its sha256 (the diff id)."""
    with open(tarball, "rb") as f:
        gzipped = f.read(2) == b"\x1f\x8b"
    opener: Any = gzip.open if gzipped else open
    h = hashlib.sha256()
    with opener(tarball, "rb") as src, open(dest, "wb") as dst:
        first = True
        while chunk := src.read(_CHUNK):
            if first and len(chunk) >= 262 and chunk[257:262] != b"ustar":
                raise ValueError("the rootfs is not a tar archive")
            first = False
            h.update(chunk)
            dst.write(chunk)
    if first:
        raise ValueError("the rootfs tarball is empty")
    return "sha256:" + h.hexdigest()


def _add_bytes(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    import io

    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mode = 0o644
    tar.addfile(info, io.BytesIO(data))


def _config(diff_id: str, message: str, changes: list[str]) -> dict[str, Any]:
    os_name, arch = host_platform()
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return {
        "architecture": arch,
        "os": os_name,
        "created": now,
        "comment": message,
        "config": apply_changes({}, changes),
        "rootfs": {"type": "layers", "diff_ids": [diff_id]},
        "history": [
            {"created": now, "created_by": "", "comment": message or "Imported"}
        ],
    }


def apply_changes(config: dict[str, Any], changes: list[str]) -> dict[str, Any]:
    """Apply ``--change`` instructions (CMD, ENTRYPOINT, ENV, WORKDIR, USER,
    LABEL, EXPOSE); raises ValueError naming one it does not know."""
    for change in changes:
        word, _, rest = change.strip().partition(" ")
        word, rest = word.upper(), rest.strip()
        if word in ("CMD", "ENTRYPOINT"):
            config["Cmd" if word == "CMD" else "Entrypoint"] = _command(rest)
        elif word == "ENV":
            key, _, value = rest.partition("=") if "=" in rest else rest.partition(" ")
            config.setdefault("Env", []).append(f"{key}={value.strip()}")
        elif word == "WORKDIR":
            config["WorkingDir"] = rest
        elif word == "USER":
            config["User"] = rest
        elif word == "LABEL":
            for pair in shlex.split(rest):
                key, _, value = pair.partition("=")
                config.setdefault("Labels", {})[key] = value
        elif word == "EXPOSE":
            for port in rest.split():
                spec = port if "/" in port else f"{port}/tcp"
                config.setdefault("ExposedPorts", {})[spec] = {}
        else:
            raise ValueError(
                f"unsupported change {change!r}: expected CMD, ENTRYPOINT, ENV, "
                "WORKDIR, USER, LABEL or EXPOSE"
            )
    return config


def _command(text: str) -> list[str]:
    """JSON form as it is; shell form runs under ``/bin/sh -c``."""
    if text.startswith("["):
        try:
            parsed = json.loads(text)
        except ValueError as err:
            raise ValueError(f"invalid JSON command {text!r}") from err
        return [str(p) for p in parsed]
    return ["/bin/sh", "-c", text]


def history(
    image: Any, tags: list[str], layer_sizes: list[int]
) -> list[dict[str, Any]]:
    """``docker history`` rows, newest first; empty-layer steps have size 0."""
    entries = list(image.config.get("history") or [])
    if not entries:
        entries = [{"created": image.created, "created_by": ""} for _ in layer_sizes]
    sizes = iter(layer_sizes)
    rows = []
    for entry in entries:
        size = 0 if entry.get("empty_layer") else next(sizes, 0)
        rows.append(
            {
                "Id": "<missing>",
                "Created": int(_time(str(entry.get("created") or ""))),
                "CreatedBy": entry.get("created_by", ""),
                "Tags": None,
                "Size": size,
                "Comment": entry.get("comment", ""),
            }
        )
    rows.reverse()
    if rows:
        rows[0]["Id"] = image.id
        rows[0]["Tags"] = tags or None
    return rows


def _time(value: str) -> float:
    """RFC 3339 with Go's nanoseconds trimmed to what Python reads."""
    if "." in value:
        head, _, frac = value.partition(".")
        digits = "".join(c for c in frac if c.isdigit())
        zone = frac[len(digits) :]
        value = f"{head}.{digits[:6]}{zone}"
    try:
        return parse_rfc3339(value)
    except ValueError:
        return 0.0


__all__ = ["apply_changes", "history", "rootfs_archive"]
