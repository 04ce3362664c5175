"""Resolving ``user[:group]`` against the image's /etc/passwd and /etc/group.

The rootfs is not mounted when the spec is built, but overlayfs keeps each layer as a
plain directory; the files are read from the topmost layer that has them.
"""

from __future__ import annotations

from pathlib import Path


class UnknownUser(ValueError):
    pass


def resolve_user(user: str, rootfs_dirs: list[Path]) -> tuple[int, int, list[int]]:
    """(uid, gid, additional gids) for ``user[:group]``; names or numbers."""
    name, _, group = user.partition(":")
    passwd = _table(rootfs_dirs, "etc/passwd")
    groups = _table(rootfs_dirs, "etc/group")

    uid, gid = 0, 0
    if name:
        entry = _find(passwd, name)
        if entry is not None:
            uid, gid = int(entry[2]), int(entry[3])
        elif name.isdigit():
            uid = int(name)
        else:
            raise UnknownUser(
                f"unable to find user {name}: no matching entries in passwd file"
            )
    if group:
        entry = _find(groups, group)
        if entry is not None:
            gid = int(entry[2])
        elif group.isdigit():
            gid = int(group)
        else:
            raise UnknownUser(
                f"unable to find group {group}: no matching entries in group file"
            )
    login = _find(passwd, name)
    login_name = login[0] if login else ""
    extra = [
        int(g[2])
        for g in groups
        if login_name and login_name in g[3].split(",") and int(g[2]) != gid
    ]
    return uid, gid, extra


def resolve_group(group: str, rootfs_dirs: list[Path]) -> int:
    """The gid of a group name or number, as the image's /etc/group has it."""
    entry = _find(_table(rootfs_dirs, "etc/group"), group)
    if entry is not None:
        return int(entry[2])
    if group.isdigit():
        return int(group)
    raise UnknownUser(
        f"Unable to find group {group}: no matching entries in group file"
    )


def _table(rootfs_dirs: list[Path], rel: str) -> list[list[str]]:
    for directory in rootfs_dirs:
        path = directory / rel
        if path.is_file():
            lines = path.read_text(errors="replace").splitlines()
            return [
                fields
                for fields in (line.split(":") for line in lines)
                if len(fields) >= 4 and not fields[0].startswith("#")
            ]
    return []


def _find(table: list[list[str]], key: str) -> list[str] | None:
    """A row by name, or by number when the key is numeric."""
    if not key:
        return None
    for row in table:
        if row[0] == key or (key.isdigit() and row[2] == key):
            return row
    return None
