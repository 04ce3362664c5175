"""Where the daemon listens: ``-H``/``POUCH_HOST`` resolved to one address.

Accepted forms are ``unix:///path``, ``tcp://host:port`` and ``http://host:port``,
the same spellings docker takes, so scripts that set ``DOCKER_HOST``-like values
keep working when pointed at ``POUCH_HOST``.
"""

import os
from typing import NamedTuple

DEFAULT_HOST = "unix:///var/run/pouchd.sock"
HOST_ENV = "POUCH_HOST"
_DEFAULT_TCP_PORT = 2375


class Host(NamedTuple):
    """A resolved daemon address; ``url`` is what error messages show.

    A named tuple rather than a dataclass: it is built on every start, and
    ``dataclasses`` costs milliseconds to import.
    """

    scheme: str  # "unix" or "tcp"
    path: str = ""
    hostname: str = ""
    port: int = 0

    @property
    def url(self) -> str:
        if self.scheme == "unix":
            return f"unix://{self.path}"
        return f"tcp://{self.hostname}:{self.port}"


def resolve_host(value: str | None = None) -> Host:
    """Pick the explicit value, then ``$POUCH_HOST``, then the default socket."""
    raw = value or os.environ.get(HOST_ENV) or DEFAULT_HOST
    return parse_host(raw)


def parse_host(raw: str) -> Host:
    """Parse one host spelling; a bare path is taken as a unix socket."""
    if raw.startswith("unix://"):
        return _unix(raw.removeprefix("unix://"), raw)
    if raw.startswith("/"):
        return _unix(raw, raw)
    for prefix in ("tcp://", "http://"):
        if raw.startswith(prefix):
            return _tcp(raw.removeprefix(prefix).rstrip("/"), raw)
    raise ValueError(
        f"invalid host {raw!r}: expected unix:///path, tcp://host:port "
        "or http://host:port"
    )


def _unix(path: str, raw: str) -> Host:
    if not path.startswith("/"):
        raise ValueError(f"invalid host {raw!r}: the socket path must be absolute")
    return Host(scheme="unix", path=path)


def _tcp(address: str, raw: str) -> Host:
    hostname, sep, port = address.rpartition(":")
    if not sep:
        hostname, port = address, str(_DEFAULT_TCP_PORT)
    if not hostname or not port.isdigit():
        raise ValueError(f"invalid host {raw!r}: expected host:port")
    return Host(scheme="tcp", hostname=hostname.strip("[]"), port=int(port))
