"""Requests answered by ``101 Switching Protocols``: attach and interactive exec.

After the 101 the socket carries the container's stream both ways, which
``http.client`` cannot hand over: its buffered reader may already hold the first
bytes of the stream. So the request is written and the answer's head read here,
on the bare socket, and whatever followed the head is kept for the caller.
"""

import contextlib
import json
import socket

from ._transport import open_connection
from .errors import APIError, ConnectionLost, DaemonUnreachable
from .hosts import Host

_HEAD_LIMIT = 64 * 1024
_RECV = 32 * 1024


class Upgraded:
    """A connection taken over after the 101.

    ``early`` holds stream bytes that arrived with the answer's head; they come
    before anything read from ``sock``.
    """

    def __init__(self, sock: socket.socket, early: bytes) -> None:
        self.sock = sock
        self.early = early

    def close_write(self) -> None:
        """Tell the daemon the input ended; its output keeps coming."""
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_WR)

    def close(self) -> None:
        self.sock.close()

    def __enter__(self) -> "Upgraded":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def open_upgraded(host: Host, url: str, payload: bytes | None) -> Upgraded:
    """POST ``url`` asking for ``Upgrade: tcp``; the connection once it is 101.

    Any other answer raises ``APIError`` with the daemon's message.
    """
    sock = _connect(host)
    try:
        sock.sendall(_request_head(url, payload) + (payload or b""))
        status, headers, rest = _read_head(sock, host.url)
        if status != 101:
            body = _read_body(sock, headers, rest)
            raise APIError(status, _message(body, status))
    except OSError as exc:
        sock.close()
        raise ConnectionLost(host.url, exc) from exc
    except BaseException:
        sock.close()
        raise
    return Upgraded(sock, rest)


def _connect(host: Host) -> socket.socket:
    connection = open_connection(host)
    try:
        connection.connect()
    except OSError as exc:
        connection.close()
        raise DaemonUnreachable(host.url, exc) from exc
    sock = connection.sock
    assert isinstance(sock, socket.socket)
    sock.settimeout(None)
    return sock


def _request_head(url: str, payload: bytes | None) -> bytes:
    lines = [
        f"POST {url} HTTP/1.1",
        "Host: localhost",
        "Connection: Upgrade",
        "Upgrade: tcp",
    ]
    if payload is not None:
        lines += ["Content-Type: application/json", f"Content-Length: {len(payload)}"]
    else:
        lines.append("Content-Length: 0")
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def _read_head(sock: socket.socket, host: str) -> tuple[int, dict[str, str], bytes]:
    """The status, the headers (lower-cased names), and the bytes after them."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(_RECV)
        if not chunk or len(data) > _HEAD_LIMIT:
            raise ConnectionLost(host, ValueError("no complete answer to the upgrade"))
        data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    parts = status_line.split(" ", 2)
    status = int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else 0
    headers = {}
    for line in header_lines:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return status, headers, rest


def _read_body(sock: socket.socket, headers: dict[str, str], body: bytes) -> bytes:
    """An error answer's body; read to its end, not to the end of the connection,
    which a keep-alive daemon leaves open."""
    length = headers.get("content-length")
    chunked = "chunked" in headers.get("transfer-encoding", "").lower()
    while True:
        if length is not None and length.isdigit() and len(body) >= int(length):
            return body
        if chunked and body.endswith(b"0\r\n\r\n"):
            return body
        chunk = sock.recv(_RECV)
        if not chunk:
            return body
        body += chunk


def _message(body: bytes, status: int) -> str:
    """The ``message`` of an error body, which may come chunked."""
    start, end = body.find(b"{"), body.rfind(b"}")
    try:
        return str(json.loads(body[start : end + 1])["message"])
    except (ValueError, KeyError, TypeError):
        text = body.decode(errors="replace").strip()
        return text or f"expected 101 Switching Protocols, got {status}"
