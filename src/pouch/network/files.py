"""The resolv.conf, hosts and hostname files the daemon bind-mounts into a container.

The builders are pure functions of their inputs; only ``write_files`` touches disk.
"""

import logging
import os
from pathlib import Path
from typing import Literal

from pouch.network.ipam import is_loopback

log = logging.getLogger("pouch.network")

Mode = Literal["bridge", "host", "none"]
MODES: tuple[Mode, ...] = ("bridge", "host", "none")

HOST_RESOLV = Path("/etc/resolv.conf")

_LOCALHOST_LINES = (
    "127.0.0.1\tlocalhost",
    "::1\tlocalhost ip6-localhost ip6-loopback",
    "fe00::0\tip6-localnet",
    "ff00::0\tip6-mcastprefix",
    "ff02::1\tip6-allnodes",
    "ff02::2\tip6-allrouters",
)


def container_resolv(host_text: str) -> str:
    """The host's resolv.conf without loopback nameservers, which would point at the
    container itself. Nothing is invented in their place: with no usable nameserver
    left the container gets none, and the daemon's log says so."""
    lines = []
    for line in host_text.splitlines():
        words = line.split()
        if words[:1] == ["nameserver"] and (len(words) < 2 or is_loopback(words[1])):
            continue
        lines.append(line)
    return "\n".join(lines) + "\n"


def embedded_resolv(host_text: str, nameserver: str) -> str:
    """The embedded server as the only nameserver, keeping the host's search and
    options lines, as Docker writes it for user-defined networks."""
    kept = [
        line
        for line in host_text.splitlines()
        if line.split()[:1] in (["search"], ["domain"], ["options"])
    ]
    return "\n".join([f"nameserver {nameserver}", *kept]) + "\n"


def has_nameserver(resolv_text: str) -> bool:
    return any(line.split()[:1] == ["nameserver"] for line in resolv_text.splitlines())


def container_hosts(hostname: str, address: str | None) -> str:
    lines = list(_LOCALHOST_LINES)
    if address is not None:
        lines.append(f"{address}\t{hostname}")
    return "\n".join(lines) + "\n"


def write_files(
    directory: Path,
    hostname: str,
    mode: Mode,
    address: str | None,
    host_resolv: Path = HOST_RESOLV,
    nameserver: str | None = None,
) -> dict[str, Path]:
    """Write the three files into ``directory``; return them by name.

    ``nameserver`` is the embedded DNS server's address, for a container that
    uses one; the others get the host's resolvers.
    """
    host_text = host_resolv.read_text() if host_resolv.exists() else ""
    if mode == "host":
        resolv = host_text
    elif nameserver is not None:
        resolv = embedded_resolv(host_text, nameserver)
    else:
        resolv = container_resolv(host_text)
        if not has_nameserver(resolv):
            log.warning("no usable nameserver in %s for %s", host_resolv, directory)

    directory.mkdir(parents=True, exist_ok=True)
    files = {
        "resolv.conf": resolv,
        "hosts": container_hosts(hostname, address if mode == "bridge" else None),
        "hostname": hostname + "\n",
    }
    return {name: _write(directory / name, text) for name, text in files.items()}


def rewrite_resolv(
    path: Path, nameserver: str | None, host_resolv: Path = HOST_RESOLV
) -> None:
    """Rewrite a running container's resolv.conf in place when its networks
    change: it is bind-mounted, so the same inode must get the new text (a rename
    would leave the container reading the old file)."""
    host_text = host_resolv.read_text() if host_resolv.exists() else ""
    if nameserver is not None:
        text = embedded_resolv(host_text, nameserver)
    else:
        text = container_resolv(host_text)
    with open(path, "r+") as f:
        f.write(text)
        f.truncate()


def _write(path: Path, text: str) -> Path:
    # Write beside and rename, so a reader never sees half a file. The files are
    # written before the container starts, so no bind mount holds the old inode.
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text)
    os.chmod(tmp, 0o644)
    tmp.replace(path)
    return path
