"""``pouchd chroot-archive``: the copy helper that works inside a container's root.

The problem: ``docker cp`` looks at, reads and writes a container's files from the
host's side, through the container's root as the host sees it, and the kernel
resolves every symlink met on the way against the host's ``/``. A link that the
container made, or that the client's tarball brings along, then sends the copy onto
the host (CVE-2018-15664).

Resolving the path by hand first is not enough: a tarball makes links while it is
unpacked, and the container may swap a directory for a link between the check and
the write. So, as dockerd does, the work is done by a short-lived process that
chroots into the container's root first; from then on the kernel resolves every
path, absolute links included, inside it. The daemon starts this process (it never
forks itself) and streams to and from it (``archive``).

After the chroot the container's files must never be loaded as code (as the
libraries of a user lookup were in CVE-2019-14271): everything is imported before
it, imports are switched off after it, owners are numeric both ways, and no user or
group name is ever looked up.

    pouchd chroot-archive stat <root> <path>     the path's lstat, JSON on stdout
    pouchd chroot-archive tar <root> <path>      a tarball of the path on stdout
    pouchd chroot-archive extract <root> <dir> [--no-overwrite-dir-non-dir]
                                                 the tarball on stdin, unpacked

The exit status says what went wrong (``Exit``) and stderr says it in words.
"""

from __future__ import annotations

import bz2  # noqa: F401  (tarfile imports the decompressors on demand)
import enum
import json
import lzma  # noqa: F401
import os
import posixpath
import shutil
import stat
import sys
import tarfile
import zlib  # noqa: F401
from collections.abc import Callable
from typing import IO

ROLE = "chroot-archive"
NO_OVERWRITE_DIR_NON_DIR = "--no-overwrite-dir-non-dir"
_USAGE = (
    f"usage: pouchd {ROLE} stat|tar <root> <path>, "
    f"or extract <root> <dir> [{NO_OVERWRITE_DIR_NON_DIR}]"
)
_CHUNK = 1 << 16

_TAR_TYPES = {
    stat.S_IFREG: tarfile.REGTYPE,
    stat.S_IFDIR: tarfile.DIRTYPE,
    stat.S_IFLNK: tarfile.SYMTYPE,
    stat.S_IFIFO: tarfile.FIFOTYPE,
    stat.S_IFCHR: tarfile.CHRTYPE,
    stat.S_IFBLK: tarfile.BLKTYPE,
}
_NODE_TYPES = {
    tarfile.FIFOTYPE: stat.S_IFIFO,
    tarfile.CHRTYPE: stat.S_IFCHR,
    tarfile.BLKTYPE: stat.S_IFBLK,
}


class Exit(enum.IntEnum):
    OK = 0
    FAILED = 1  # anything unexpected
    USAGE = 2
    MISSING = 3  # the path is not in the container
    REFUSED = 4  # the request's fault: not a directory, a bad or hostile tarball


class _Failure(Exception):
    def __init__(self, status: Exit, message: str) -> None:
        super().__init__(message)
        self.status = status


class _Refused(Exception):
    """An archive member that dockerd refuses to unpack."""


def run_helper(argv: list[str]) -> int:
    """Entry point of ``pouchd chroot-archive <action> <root> <path> [flags]``."""
    try:
        action, root, path, *flags = argv
        work = _ACTIONS[action]
    except (ValueError, KeyError):
        return _fail(Exit.USAGE, _USAGE)
    try:
        _enter(root)
        work(path, flags)
    except _Failure as exc:
        return _fail(exc.status, str(exc))
    except Exception as exc:
        # No traceback: its source lines would be read from the container.
        return _fail(Exit.FAILED, f"{action} {path}: {exc!r}")
    return Exit.OK


def _enter(root: str) -> None:
    try:
        os.chroot(root)
        os.chdir("/")
    except OSError as exc:
        raise _Failure(Exit.FAILED, f"cannot enter the root {root}: {exc}") from exc
    # Whatever is not loaded by now would be loaded from the container's files.
    sys.meta_path.clear()


def _fail(status: Exit, message: str) -> int:
    sys.stderr.write(message + "\n")
    return status


# -- stat ---------------------------------------------------------------------------


def _stat(path: str, flags: list[str]) -> None:
    """The path's own lstat, a link not followed unless the path ends in / or /.;
    a link's target is given resolved, as dockerd gives it."""
    info = _lstat(path)
    link = os.path.realpath(path) if stat.S_ISLNK(info.st_mode) else ""
    doc = {
        "mode": info.st_mode,
        "size": info.st_size,
        "mtime_ns": info.st_mtime_ns,
        "link": link,
    }
    sys.stdout.write(json.dumps(doc))


def _lstat(path: str) -> os.stat_result:
    try:
        return os.lstat(path)
    except FileNotFoundError as exc:
        raise _Failure(Exit.MISSING, f"no such file: {path}") from exc
    except OSError as exc:
        raise _Failure(Exit.REFUSED, f"cannot stat {path}: {exc.strerror}") from exc


# -- tar ----------------------------------------------------------------------------


def _tar(path: str, flags: list[str]) -> None:
    """``path`` under its base name, as dockerd names it: ``/etc/.`` is ``.``."""
    _lstat(path)
    name = posixpath.basename(path.rstrip("/")) or "."
    with tarfile.open(fileobj=sys.stdout.buffer, mode="w|") as tar:
        _add(tar, path, name, {})


def _add(
    tar: tarfile.TarFile, path: str, name: str, inodes: dict[tuple[int, int], str]
) -> None:
    info = os.lstat(path)
    if stat.S_ISREG(info.st_mode):
        _add_file(tar, path, name, inodes)
        return
    header = _header(name, info, path)
    if header is None:
        return  # a socket, which tar leaves out too
    tar.addfile(header)
    if header.isdir():
        for entry in sorted(os.listdir(path)):
            _add(tar, os.path.join(path, entry), os.path.join(name, entry), inodes)


def _add_file(
    tar: tarfile.TarFile, path: str, name: str, inodes: dict[tuple[int, int], str]
) -> None:
    # Opened so that a file the container swapped for a link or a FIFO since the
    # lstat is neither followed nor waited on; its header is taken from what is open.
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    with open(fd, "rb") as source:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            return
        header = _header(name, info, path)
        assert header is not None
        inode = (info.st_dev, info.st_ino)
        if info.st_nlink > 1 and inode in inodes:
            header.type, header.linkname, header.size = (
                tarfile.LNKTYPE,
                inodes[inode],
                0,
            )
            tar.addfile(header)
            return
        if info.st_nlink > 1:
            inodes[inode] = name
        tar.addfile(header, source)


def _header(name: str, info: os.stat_result, path: str) -> tarfile.TarInfo | None:
    """A tar header from the stat alone: tarfile's own would look up the owners'
    names, reading the container's NSS configuration and libraries."""
    kind = _TAR_TYPES.get(stat.S_IFMT(info.st_mode))
    if kind is None:
        return None
    header = tarfile.TarInfo(name)
    header.type = kind
    header.mode = stat.S_IMODE(info.st_mode)
    header.uid, header.gid = info.st_uid, info.st_gid
    header.mtime = info.st_mtime
    if kind == tarfile.REGTYPE:
        header.size = info.st_size
    elif kind == tarfile.SYMTYPE:
        header.linkname = os.readlink(path)
    elif kind in (tarfile.CHRTYPE, tarfile.BLKTYPE):
        header.devmajor = os.major(info.st_rdev)
        header.devminor = os.minor(info.st_rdev)
    return header


# -- extract ------------------------------------------------------------------------


def _extract(path: str, flags: list[str]) -> None:
    """The tarball on stdin, unpacked into the directory ``path`` as dockerd unpacks
    it: owners kept by number, modes kept whole, what is in an entry's way replaced
    (unless a directory and a non-directory would replace each other and the client
    asked that they not)."""
    no_overwrite = NO_OVERWRITE_DIR_NON_DIR in flags
    try:
        os.chdir(path)
    except FileNotFoundError as exc:
        raise _Failure(Exit.MISSING, f"no such directory: {path}") from exc
    except NotADirectoryError as exc:
        message = f"extraction point is not a directory: {path}"
        raise _Failure(Exit.REFUSED, message) from exc
    except OSError as exc:
        message = f"cannot extract archive into {path}: {exc.strerror}"
        raise _Failure(Exit.REFUSED, message) from exc
    try:
        _unpack(sys.stdin.buffer, os.getcwd(), no_overwrite)
    except (tarfile.TarError, OSError, _Refused) as exc:
        message = f"cannot extract archive into {path}: {exc}"
        raise _Failure(Exit.REFUSED, message) from exc
    # The end-of-archive padding and anything after it: the daemon writes it all.
    while sys.stdin.buffer.read(_CHUNK):
        pass


def _unpack(stream: IO[bytes], dest: str, no_overwrite: bool) -> None:
    """Members land relative to the working directory, which is ``dest``."""
    directories: list[tarfile.TarInfo] = []
    with tarfile.open(fileobj=stream, mode="r|*") as tar:
        for member in tar:
            entry = _checked(member, dest)
            if not _make_room(entry, dest, no_overwrite):
                _create(tar, entry)
            _set_attributes(entry)
            if entry.isdir():
                directories.append(entry)
    # A directory's times once nothing more is written into it.
    for entry in reversed(directories):
        os.utime(entry.name, (entry.mtime, entry.mtime), follow_symlinks=False)


def _checked(member: tarfile.TarInfo, dest: str) -> tarfile.TarInfo:
    """The member named relative to ``dest``; _Refused for what dockerd refuses: a
    name or a link that climbs out of ``dest``, a type it does not know."""
    known = member.isreg() or member.isdir() or member.issym() or member.islnk()
    if not known and member.type not in _NODE_TYPES:
        raise _Refused(f"unhandled tar header type {member.type!r}")
    # An absolute name is taken below dest, as a relative one is.
    name = posixpath.normpath(member.name)
    if _climbs(name):
        raise _Refused(f'"{member.name}" is outside of "{dest}"')
    name = name.lstrip("/") or "."
    linkname = member.linkname
    if member.issym() and not linkname.startswith("/"):
        if _climbs(posixpath.join(posixpath.dirname(name), linkname)):
            where = posixpath.join(dest, name)
            raise _Refused(f'invalid symlink "{where}" -> "{linkname}"')
    if member.islnk():
        target = posixpath.normpath(linkname)
        if _climbs(target):
            where = posixpath.join(dest, name)
            raise _Refused(f'invalid hardlink "{where}" -> "{linkname}"')
        linkname = target.lstrip("/") or "."
    return member.replace(name=name, linkname=linkname, deep=False)


def _climbs(path: str) -> bool:
    clean = posixpath.normpath(path)
    return clean == ".." or clean.startswith("../")


def _make_room(entry: tarfile.TarInfo, dest: str, no_overwrite: bool) -> bool:
    """Clears the entry's path; True when a directory is there to merge into."""
    try:
        existing = os.lstat(entry.name)
    except FileNotFoundError:
        parent = os.path.dirname(entry.name)
        if parent and not os.path.lexists(parent):
            os.makedirs(parent, 0o755)
        return False
    is_dir = stat.S_ISDIR(existing.st_mode)
    where = posixpath.normpath(posixpath.join(dest, entry.name))
    if no_overwrite and is_dir and not entry.isdir():
        raise _Refused(
            f'cannot overwrite directory "{where}" with non-directory "{dest}"'
        )
    if no_overwrite and not is_dir and entry.isdir():
        raise _Refused(
            f'cannot overwrite non-directory "{where}" with directory "{dest}"'
        )
    if is_dir and entry.isdir():
        return True
    if is_dir:
        shutil.rmtree(entry.name)
    else:
        os.unlink(entry.name)
    return False


def _create(tar: tarfile.TarFile, entry: tarfile.TarInfo) -> None:
    name = entry.name
    if entry.isdir():
        os.mkdir(name, 0o700)
    elif entry.isreg():
        content = tar.extractfile(entry)
        assert content is not None
        fd = os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with open(fd, "wb") as target:
            shutil.copyfileobj(content, target, _CHUNK)
    elif entry.issym():
        os.symlink(entry.linkname, name)
    elif entry.islnk():
        os.link(entry.linkname, name, follow_symlinks=False)
    else:
        device = os.makedev(entry.devmajor, entry.devminor)
        os.mknod(name, _NODE_TYPES[entry.type] | 0o600, device)


def _set_attributes(entry: tarfile.TarInfo) -> None:
    """Owner, then mode (a chown clears set-id bits), then times but a directory's."""
    os.lchown(entry.name, entry.uid, entry.gid)
    if entry.issym():
        os.utime(entry.name, (entry.mtime, entry.mtime), follow_symlinks=False)
        return
    os.chmod(entry.name, stat.S_IMODE(entry.mode))
    if not entry.isdir():
        os.utime(entry.name, (entry.mtime, entry.mtime))


_ACTIONS: dict[str, Callable[[str, list[str]], None]] = {
    "stat": _stat,
    "tar": _tar,
    "extract": _extract,
}
