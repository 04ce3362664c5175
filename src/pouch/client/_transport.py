"""One request in, one response out, over a unix socket or TCP.

``http.client`` already speaks HTTP/1.1 (chunked bodies both ways, keep-alive);
all it lacks is a unix socket, so the connection class only replaces ``connect``.
A fresh connection serves each request: streams (logs, wait) hold theirs open for
as long as they run, and a unix connect costs microseconds.
"""

import http.client
import socket

from .hosts import Host


class UnixHTTPConnection(http.client.HTTPConnection):
    """An HTTP connection whose socket is a unix stream socket at ``path``."""

    def __init__(self, path: str, timeout: float | None = None) -> None:
        # The Host header needs some name; the daemon ignores it.
        super().__init__("localhost", timeout=timeout)
        self.socket_path = path

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.settimeout(self.timeout)
            sock.connect(self.socket_path)
        except OSError:
            sock.close()
            raise
        self.sock = sock


def open_connection(
    host: Host, timeout: float | None = None
) -> http.client.HTTPConnection:
    """A new, not yet connected, connection to ``host``."""
    if host.scheme == "unix":
        return UnixHTTPConnection(host.path, timeout=timeout)
    return http.client.HTTPConnection(host.hostname, host.port, timeout=timeout)
