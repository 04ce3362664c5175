"""Files of an image read straight from its unpacked layers, without a mount.

A new volume starts with what the image holds at the volume's path, as docker's
do. The obvious way mounts the container's overlay and copies from it; that needs
a mount point, an unmount on every error path, and leaves a mount behind if the
daemon dies in between. The layer directories (topmost first, as containerd's
overlay snapshotter keeps them) already say everything: here they are merged the
way overlayfs merges them, whiteouts and opaque directories included, and the
merged tree is copied out with owners, modes, times and hard links kept.

Nothing in a layer is followed on the host: entries are read with ``lstat``, and a
symlink on the way to the path is resolved inside the merged tree.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import stat
from collections.abc import Sequence
from pathlib import Path

_MAX_LINKS = 40
# The two ways a layer marks what it removes: overlayfs's own (a 0/0 character
# device, an xattr on an opaque directory) and the tar form (.wh. files).
_WHITEOUT_PREFIX = ".wh."
_OPAQUE_FILE = ".wh..wh..opq"
_OPAQUE_XATTRS = ("trusted.overlay.opaque", "user.overlay.opaque")


def copy_path(layers: Sequence[Path], path: str, dest: Path) -> bool:
    """Copy the directory ``path`` of the merged ``layers`` into ``dest`` (an
    existing, empty directory), which takes the directory's owner and mode too.
    False, and nothing copied, if the image has no directory there."""
    found = _resolve(list(layers), path)
    if found is None:
        return False
    _Copier().merge(found, dest)
    _copy_attributes(found[0], dest)
    return True


def bytes_under(top: Path) -> int:
    """The bytes of the files under ``top``, each inode once, directories not
    counted: what docker reports as a layer's or a volume's size."""
    seen: set[tuple[int, int]] = set()
    total = 0
    for root, _, files in os.walk(top):
        for name in files:
            with contextlib.suppress(OSError):
                info = os.lstat(os.path.join(root, name))
                if (info.st_dev, info.st_ino) not in seen:
                    seen.add((info.st_dev, info.st_ino))
                    total += info.st_size
    return total


def _resolve(layers: list[Path], path: str) -> list[Path] | None:
    """The layer directories that make up the merged directory at ``path``,
    topmost first; None if it is not a directory in the merged tree."""
    parts = [p for p in path.split("/") if p not in ("", ".")]
    trail = [layers]  # the merged directories from the root down
    links = 0
    while parts:
        part = parts.pop(0)
        if part == "..":
            if len(trail) > 1:
                trail.pop()
            continue
        found = _visible(trail[-1], part)
        if not found:
            return None
        if found[0].is_symlink():
            links += 1
            if links > _MAX_LINKS:
                return None
            target = os.readlink(found[0])
            if target.startswith("/"):
                trail = [layers]
            parts = [p for p in target.split("/") if p not in ("", ".")] + parts
            continue
        if not _is_dir(found[0]):
            return None
        trail.append(found)
    return trail[-1]


def _visible(dirs: list[Path], name: str) -> list[Path]:
    """What ``name`` is in the merged directory made of ``dirs``: its directories
    topmost first when it is one, else the one entry that shows; empty when a
    whiteout hides it or no layer has it."""
    found: list[Path] = []
    for directory in dirs:
        if os.path.lexists(directory / (_WHITEOUT_PREFIX + name)):
            break
        entry = directory / name
        try:
            info = entry.lstat()
        except OSError:
            continue
        if _is_whiteout(info):
            break
        if not stat.S_ISDIR(info.st_mode):
            # A file over directories hides them; one under a directory is hidden.
            return found or [entry]
        found.append(entry)
        if _is_opaque(entry):
            break
    return found


class _Copier:
    """One copy: hard links inside the copied tree stay hard links."""

    def __init__(self) -> None:
        self._linked: dict[tuple[int, int], Path] = {}

    def merge(self, dirs: list[Path], dest: Path) -> None:
        for name in _names(dirs):
            found = _visible(dirs, name)
            if not found:
                continue
            target = dest / name
            if _is_dir(found[0]):
                target.mkdir()
                self.merge(found, target)
                _copy_attributes(found[0], target)
            else:
                self._copy_entry(found[0], target)

    def _copy_entry(self, source: Path, target: Path) -> None:
        info = source.lstat()
        key = (info.st_dev, info.st_ino)
        if info.st_nlink > 1 and key in self._linked:
            os.link(self._linked[key], target)
            return
        if stat.S_ISLNK(info.st_mode):
            os.symlink(os.readlink(source), target)
        elif stat.S_ISREG(info.st_mode):
            shutil.copyfile(source, target, follow_symlinks=False)
        elif stat.S_ISCHR(info.st_mode) or stat.S_ISBLK(info.st_mode):
            os.mknod(target, info.st_mode, info.st_rdev)
        elif stat.S_ISFIFO(info.st_mode):
            os.mkfifo(target, stat.S_IMODE(info.st_mode))
        else:
            return  # a socket means nothing outside the process that made it
        _copy_attributes(source, target, info)
        if info.st_nlink > 1:
            self._linked[key] = target


def _names(dirs: list[Path]) -> list[str]:
    """Every name in the merged directory, whiteout markers left out."""
    names: dict[str, None] = {}
    for directory in dirs:
        with os.scandir(directory) as entries:
            for entry in entries:
                if not entry.name.startswith(_WHITEOUT_PREFIX):
                    names.setdefault(entry.name, None)
    return sorted(names)


def _copy_attributes(
    source: Path, target: Path, info: os.stat_result | None = None
) -> None:
    info = info or source.lstat()
    os.chown(target, info.st_uid, info.st_gid, follow_symlinks=False)
    if not stat.S_ISLNK(info.st_mode):
        os.chmod(target, stat.S_IMODE(info.st_mode))
    times = (info.st_atime_ns, info.st_mtime_ns)
    os.utime(target, ns=times, follow_symlinks=False)


def _is_dir(path: Path) -> bool:
    return stat.S_ISDIR(path.lstat().st_mode)


def _is_whiteout(info: os.stat_result) -> bool:
    return stat.S_ISCHR(info.st_mode) and info.st_rdev == 0


def _is_opaque(directory: Path) -> bool:
    if os.path.lexists(directory / _OPAQUE_FILE):
        return True
    for name in _OPAQUE_XATTRS:
        with contextlib.suppress(OSError):
            if os.getxattr(directory, name, follow_symlinks=False) == b"y":
                return True
    return False
