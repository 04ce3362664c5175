"""A fake pouchd at the transport boundary: canned answers on a unix socket.

Each test registers answers by method and path (without the ``/v1.43`` prefix) and
reads back the requests the CLI made, bodies decoded. Bodies can be bytes or lists of
chunks, sent with chunked encoding, so streaming paths are exercised for real.
"""

import json
import socketserver
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, urlsplit

PREFIX = "/v1.43"


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Answer:
    status: int = 200
    body: Any = None  # a JSON value, or bytes sent as they are
    content_type: str = "application/json"
    chunks: list[bytes] | None = None  # sent with chunked encoding instead of body


Responder = Callable[[Request], Answer]


@dataclass
class FakeDaemon:
    socket_path: str
    routes: dict[tuple[str, str], Answer | Responder] = field(default_factory=dict)
    requests: list[Request] = field(default_factory=list)
    errors: list[BaseException] = field(default_factory=list)

    def on(self, method: str, path: str, answer: Answer | Responder) -> None:
        self.routes[(method, path)] = answer

    def answer(self, request: Request) -> Answer:
        self.requests.append(request)
        route = self.routes.get((request.method, request.path))
        if route is None:
            return Answer(404, {"message": f"page not found: {request.path}"})
        return route(request) if callable(route) else route

    def find(self, method: str, path: str) -> Request:
        for request in self.requests:
            if (request.method, request.path) == (method, path):
                return request
        raise AssertionError(f"no {method} {path} in {self.paths()}")

    def paths(self) -> list[str]:
        return [f"{r.method} {r.path}" for r in self.requests]


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: "_Server"

    def _handle(self) -> None:
        url = urlsplit(self.path)
        query = {k: v[-1] for k, v in parse_qs(url.query).items()}
        request = Request(
            method=self.command,
            path=url.path.removeprefix(PREFIX),
            query=query,
            headers={k.lower(): v for k, v in self.headers.items()},
            body=self._read_body(),
        )
        self._send(self.server.daemon.answer(request))

    do_GET = do_POST = do_DELETE = do_HEAD = _handle

    def _read_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            return self._read_chunked()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length)

    def _read_chunked(self) -> bytes:
        body = b""
        while True:
            size = int(self.rfile.readline().split(b";")[0], 16)
            if size == 0:
                self.rfile.readline()
                return body
            body += self.rfile.read(size)
            self.rfile.readline()

    def _send(self, answer: Answer) -> None:
        self.send_response(answer.status)
        self.send_header("Content-Type", answer.content_type)
        if answer.chunks is not None:
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for chunk in answer.chunks:
                self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                self.wfile.flush()
            self.wfile.write(b"0\r\n\r\n")
            return
        payload = _payload(answer.body)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, format: str, *args: Any) -> None:
        pass


def _payload(body: Any) -> bytes:
    if body is None:
        return b""
    if isinstance(body, bytes):
        return body
    return json.dumps(body).encode()


class _Server(socketserver.ThreadingUnixStreamServer):
    daemon_threads = True
    daemon: FakeDaemon

    def handle_error(self, request: Any, client_address: Any) -> None:
        # Record instead of printing: a handler thread may outlive its test and
        # would write into the next test's captured stderr. A client that hangs
        # up early (run closing its pending wait) is not an error.
        error = sys.exc_info()[1]
        if error is not None and not isinstance(error, ConnectionError):
            self.daemon.errors.append(error)

    def get_request(self) -> tuple[Any, Any]:
        # BaseHTTPRequestHandler wants a (host, port) client address.
        sock, _ = super().get_request()
        return sock, ("local", 0)


def serve(socket_path: str) -> tuple[FakeDaemon, Callable[[], None]]:
    """Start a fake daemon; return it and the function that stops it."""
    fake = FakeDaemon(socket_path)
    server = _Server(socket_path, _Handler)
    server.daemon = fake
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()

    def stop() -> None:
        server.shutdown()
        server.server_close()
        thread.join()

    return fake, stop
