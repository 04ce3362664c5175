"""The resolv.conf, hosts and hostname files the daemon bind-mounts into a container.

The builders are pure functions of their inputs; only ``write_files`` touches disk.
What a create request asks of them (``--dns``, ``--dns-search``, ``--dns-option``,
``--add-host``) arrives checked, as ``FileOptions``.
"""

import ipaddress
import logging
import os
from dataclasses import dataclass
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

# The address an extra host may name for "the host": the default bridge's gateway.
HOST_GATEWAY = "host-gateway"


class FileOptionError(ValueError):
    """A DNS setting or extra host that cannot go into the files; the message names
    the field and the value."""


@dataclass(frozen=True)
class FileOptions:
    """DNS servers, search domains and options that replace the host's (each list
    on its own), and ``(name, address)`` lines for /etc/hosts."""

    dns: tuple[str, ...] = ()
    dns_search: tuple[str, ...] = ()
    dns_options: tuple[str, ...] = ()
    extra_hosts: tuple[tuple[str, str], ...] = ()

    @property
    def rewrites_resolv(self) -> bool:
        return bool(self.dns or self.dns_search or self.dns_options)


def file_options(
    dns: list[str] | None,
    dns_search: list[str] | None,
    dns_options: list[str] | None,
    extra_hosts: list[str] | None,
) -> FileOptions:
    """The request's settings, checked: servers are IP addresses, the rest single
    words that cannot break a line of the files."""
    for server in dns or []:
        if not _is_ip(server):
            raise FileOptionError(
                f"invalid HostConfig.Dns entry {server!r}: not an IP address"
            )
    for field, words in (("DnsSearch", dns_search), ("DnsOptions", dns_options)):
        for word in words or []:
            if not word or any(c.isspace() for c in word) or "#" in word:
                raise FileOptionError(
                    f"invalid HostConfig.{field} entry {word!r}: one word, no blanks"
                )
    return FileOptions(
        tuple(dns or ()),
        tuple(dns_search or ()),
        tuple(dns_options or ()),
        tuple(parse_extra_host(entry) for entry in extra_hosts or []),
    )


def parse_extra_host(entry: str) -> tuple[str, str]:
    """``name:address`` (split at the first colon, so IPv6 addresses work), the
    address an IP or ``host-gateway``; dockerd's words for what it refuses."""
    name, sep, address = entry.partition(":")
    if not sep or not name or any(c.isspace() or c == "#" for c in name):
        raise FileOptionError(f"bad format for add-host: {entry!r}")
    address = address.removeprefix("[").removesuffix("]")
    if address != HOST_GATEWAY and not _is_ip(address):
        raise FileOptionError(f"invalid IP address in add-host: {address!r}")
    return name, address


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


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


def embedded_resolv(
    host_text: str, nameserver: str, options: FileOptions = FileOptions()
) -> str:
    """The embedded server as the only nameserver, keeping the host's search and
    options lines, as Docker writes it for user-defined networks. Servers asked
    for are the embedded server's upstreams, not lines here."""
    if options.dns_search or options.dns_options:
        local = FileOptions((nameserver,), options.dns_search, options.dns_options)
        return overridden_resolv(host_text, local)
    kept = [
        line
        for line in host_text.splitlines()
        if line.split()[:1] in (["search"], ["domain"], ["options"])
    ]
    return "\n".join([f"nameserver {nameserver}", *kept]) + "\n"


def overridden_resolv(base_text: str, options: FileOptions) -> str:
    """``base_text`` with its nameservers, search domains and options each replaced
    by those asked for, if any, in the order dockerd writes them. A search of
    ``.`` alone means none."""
    servers = list(options.dns) or _words(base_text, "nameserver")
    search = list(options.dns_search) or _words(base_text, "search")
    extra = list(options.dns_options) or _words(base_text, "options")
    lines = []
    if search and search != ["."]:
        lines.append("search " + " ".join(search))
    lines += [f"nameserver {server}" for server in servers]
    if extra:
        lines.append("options " + " ".join(extra))
    return "\n".join(lines) + "\n"


def _words(text: str, keyword: str) -> list[str]:
    """The values of ``keyword`` lines: each nameserver, every search domain."""
    found = []
    for line in text.splitlines():
        words = line.split()
        if words[:1] == [keyword]:
            found += words[1:2] if keyword == "nameserver" else words[1:]
    return found


def resolv_conf(
    host_text: str, mode: Mode, nameserver: str | None, options: FileOptions
) -> str:
    """A container's resolv.conf: the embedded server's, the host's as it is for
    the host's network, or the host's without loopback servers; then what the
    request asks in place of the host's."""
    if nameserver is not None:
        return embedded_resolv(host_text, nameserver, options)
    base = host_text if mode == "host" else container_resolv(host_text)
    return overridden_resolv(base, options) if options.rewrites_resolv else base


def has_nameserver(resolv_text: str) -> bool:
    return any(line.split()[:1] == ["nameserver"] for line in resolv_text.splitlines())


def container_hosts(
    hostname: str, address: str | None, extra: tuple[tuple[str, str], ...] = ()
) -> str:
    """The loopback names, the container's own address, then the extra hosts
    (``host-gateway`` already resolved)."""
    lines = list(_LOCALHOST_LINES)
    if address is not None:
        lines.append(f"{address}\t{hostname}")
    lines += [f"{ip}\t{name}" for name, ip in extra]
    return "\n".join(lines) + "\n"


def write_files(
    directory: Path,
    hostname: str,
    mode: Mode,
    address: str | None,
    host_resolv: Path = HOST_RESOLV,
    nameserver: str | None = None,
    options: FileOptions = FileOptions(),
) -> dict[str, Path]:
    """Write the three files into ``directory``; return them by name.

    ``nameserver`` is the embedded DNS server's address, for a container that
    uses one; the others get the host's resolvers, or those ``options`` name.
    """
    host_text = host_resolv.read_text() if host_resolv.exists() else ""
    resolv = resolv_conf(host_text, mode, nameserver, options)
    if not has_nameserver(resolv):
        log.warning("no usable nameserver in %s for %s", host_resolv, directory)

    directory.mkdir(parents=True, exist_ok=True)
    own = address if mode == "bridge" else None
    files = {
        "resolv.conf": resolv,
        "hosts": container_hosts(hostname, own, options.extra_hosts),
        "hostname": hostname + "\n",
    }
    return {name: _write(directory / name, text) for name, text in files.items()}


def rewrite_resolv(
    path: Path,
    nameserver: str | None,
    host_resolv: Path = HOST_RESOLV,
    options: FileOptions = FileOptions(),
) -> None:
    """Rewrite a running container's resolv.conf in place when its networks
    change: it is bind-mounted, so the same inode must get the new text (a rename
    would leave the container reading the old file)."""
    host_text = host_resolv.read_text() if host_resolv.exists() else ""
    text = resolv_conf(host_text, "bridge", nameserver, options)
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
