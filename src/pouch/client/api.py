"""The client: one method per Engine API call pouch uses, named after the CLI verb.

Every request goes through ``Client.request``, which is the one place that turns a
refused socket into ``DaemonUnreachable`` and a non-2xx answer into ``APIError``.
Methods return parsed JSON, or an open ``Stream`` for bodies that last (logs, load,
wait), which the caller closes or exhausts.
"""

import http.client
import json
from collections.abc import Callable, Iterator, Mapping
from typing import IO, TYPE_CHECKING, Any, NoReturn
from urllib.parse import quote, urlencode

from . import streams
from ._transport import open_connection
from .errors import APIError, ConnectionLost, DaemonUnreachable
from .hosts import Host, resolve_host

if TYPE_CHECKING:
    from .upgrade import Upgraded

API_VERSION = "1.43"
Tracer = Callable[[str], None]
Query = Mapping[str, str | int | bool | None]


class Stream:
    """An open response whose body is read as it arrives; closes its connection.

    A body that breaks off (the daemon died, a proxy cut it) raises
    ``ConnectionLost`` rather than ``http.client``'s own errors.
    """

    def __init__(
        self,
        connection: http.client.HTTPConnection,
        response: http.client.HTTPResponse,
        host: str,
    ) -> None:
        self.connection = connection
        self.response = response
        self.host = host

    def chunks(self) -> Iterator[bytes]:
        try:
            yield from streams.iter_chunks(self.response)
        except (OSError, http.client.HTTPException) as exc:
            raise ConnectionLost(self.host, exc) from exc
        finally:
            self.close()

    def read(self) -> bytes:
        """The whole body."""
        try:
            return self.response.read()
        except (OSError, http.client.HTTPException) as exc:
            raise ConnectionLost(self.host, exc) from exc
        finally:
            self.close()

    def json(self) -> Any:
        """The whole body as one JSON document (``None`` when empty)."""
        raw = self.read()
        try:
            return _decode(raw)
        except ValueError as exc:
            raise ConnectionLost(self.host, exc) from exc

    def close(self) -> None:
        self.response.close()
        self.connection.close()

    def __enter__(self) -> "Stream":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class PendingResponse:
    """A request already sent whose answer is read later (``run`` waits this way).

    Sending ``wait`` before ``start`` is how docker avoids missing a fast exit.
    """

    def __init__(self, client: "Client", connection: http.client.HTTPConnection):
        self._client = client
        self._connection = connection

    def result(self) -> Any:
        response = self._client.receive(self._connection)
        return Stream(self._connection, response, self._client.host.url).json()

    def close(self) -> None:
        self._connection.close()


class Client:
    """Talks to one pouchd; cheap to make, holds no connection between calls."""

    def __init__(
        self,
        host: Host | str | None = None,
        timeout: float | None = None,
        tracer: Tracer | None = None,
    ) -> None:
        self.host = host if isinstance(host, Host) else resolve_host(host)
        self.timeout = timeout
        self._trace = tracer

    # -- transport --------------------------------------------------------------

    def request(
        self,
        method: str,
        path: str,
        query: Query | None = None,
        body: Any = None,
        headers: Mapping[str, str] | None = None,
    ) -> Stream:
        """Send one request; return its open response, or raise for a non-2xx."""
        connection = self._send(method, path, query, body, headers)
        return Stream(connection, self.receive(connection), self.host.url)

    def call(
        self,
        method: str,
        path: str,
        query: Query | None = None,
        body: Any = None,
    ) -> Any:
        """Send one request and return its JSON body (``None`` when empty)."""
        return self.request(method, path, query, body).json()

    def send_only(
        self, method: str, path: str, query: Query | None = None
    ) -> PendingResponse:
        """Send a request now; read its answer later through the returned handle."""
        return PendingResponse(self, self._send(method, path, query, None, None))

    def upgrade(
        self, path: str, query: Query | None = None, body: Any = None
    ) -> "Upgraded":
        """POST for a stream that takes the connection over (attach, exec start).

        Returns the connection after the daemon's 101; raises ``APIError`` for any
        other answer.
        """
        from .upgrade import open_upgraded

        url = _url(path, query)
        if self._trace:
            self._trace(f"POST {url} (upgrade)")
        payload = json.dumps(body).encode() if body is not None else None
        return open_upgraded(self.host, url, payload)

    def _send(
        self,
        method: str,
        path: str,
        query: Query | None,
        body: Any,
        headers: Mapping[str, str] | None,
    ) -> http.client.HTTPConnection:
        url = _url(path, query)
        payload, all_headers = _encode_body(body, headers)
        if self._trace:
            self._trace(f"{method} {url}")
        connection = open_connection(self.host, self.timeout)
        try:
            connection.connect()
        except OSError as exc:
            connection.close()
            raise DaemonUnreachable(self.host.url, exc) from exc
        try:
            connection.request(method, url, body=payload, headers=all_headers)
        except OSError as exc:
            self._explain_refusal(connection, exc)
        return connection

    def _explain_refusal(
        self, connection: http.client.HTTPConnection, exc: OSError
    ) -> NoReturn:
        """The daemon stopped reading mid-upload: raise its error if it sent one."""
        try:
            self.receive(connection)
        except ConnectionLost:
            pass
        connection.close()
        raise ConnectionLost(self.host.url, exc) from exc

    def receive(
        self, connection: http.client.HTTPConnection
    ) -> http.client.HTTPResponse:
        """Read the answer to a request sent on ``connection``; raise for a 4xx/5xx.

        A 304 (start of a started container) counts as success, as docker's CLI
        counts it.
        """
        try:
            response = connection.getresponse()
        except (OSError, http.client.HTTPException) as exc:
            connection.close()
            raise ConnectionLost(self.host.url, exc) from exc
        if self._trace:
            self._trace(f"-> {response.status} {response.reason}")
        if response.status >= 400:
            error = _api_error(response)
            connection.close()
            raise error
        return response

    # -- system -----------------------------------------------------------------

    def ping(self) -> str:
        return self.request("GET", "/_ping").read().decode()

    def version(self) -> Any:
        return self.call("GET", "/version")

    def info(self) -> Any:
        return self.call("GET", "/info")

    # -- containers -------------------------------------------------------------

    def containers(
        self, all: bool = False, filters: Mapping[str, list[str]] | None = None
    ) -> Any:
        query: dict[str, str | int | bool | None] = {"all": all}
        if filters:
            query["filters"] = json.dumps(filters)
        return self.call("GET", "/containers/json", query)

    def create_container(self, config: Mapping[str, Any], name: str | None) -> Any:
        return self.call("POST", "/containers/create", {"name": name}, dict(config))

    def inspect_container(self, container: str) -> Any:
        return self.call("GET", f"/containers/{_seg(container)}/json")

    def start(self, container: str) -> None:
        self.call("POST", f"/containers/{_seg(container)}/start")

    def stop(self, container: str, timeout: int | None = None) -> None:
        self.call("POST", f"/containers/{_seg(container)}/stop", {"t": timeout})

    def restart(self, container: str, timeout: int | None = None) -> None:
        self.call("POST", f"/containers/{_seg(container)}/restart", {"t": timeout})

    def kill(self, container: str, signal: str | None = None) -> None:
        self.call("POST", f"/containers/{_seg(container)}/kill", {"signal": signal})

    def remove_container(
        self, container: str, force: bool = False, volumes: bool = False
    ) -> None:
        query = {"force": force, "v": volumes}
        self.call("DELETE", f"/containers/{_seg(container)}", query)

    def wait(self, container: str, condition: str | None = None) -> Any:
        path = f"/containers/{_seg(container)}/wait"
        return self.call("POST", path, {"condition": condition})

    def wait_later(self, container: str, condition: str) -> PendingResponse:
        """Register a wait now (before start) and read its exit status later."""
        path = f"/containers/{_seg(container)}/wait"
        return self.send_only("POST", path, {"condition": condition})

    def logs(
        self,
        container: str,
        follow: bool = False,
        stdout: bool = True,
        stderr: bool = True,
        tail: str | None = None,
        timestamps: bool = False,
    ) -> Stream:
        query = {
            "follow": follow,
            "stdout": stdout,
            "stderr": stderr,
            "tail": tail,
            "timestamps": timestamps,
        }
        return self.request("GET", f"/containers/{_seg(container)}/logs", query)

    # -- images -----------------------------------------------------------------

    def images(self, all: bool = False) -> Any:
        return self.call("GET", "/images/json", {"all": all})

    def inspect_image(self, image: str) -> Any:
        return self.call("GET", f"/images/{_seg(image)}/json")

    def remove_image(self, image: str, force: bool = False) -> Any:
        return self.call("DELETE", f"/images/{_seg(image)}", {"force": force})

    def load_image(self, tarball: IO[bytes], quiet: bool = False) -> Iterator[Any]:
        """Stream ``tarball`` up (chunked) and yield the daemon's progress messages."""
        headers = {"Content-Type": "application/x-tar"}
        response = self.request(
            "POST", "/images/load", {"quiet": quiet}, tarball, headers
        )
        return streams.iter_json_messages(response.chunks())


def _url(path: str, query: Query | None) -> str:
    url = f"/v{API_VERSION}{path}"
    if query:
        pairs = [(k, _query_value(v)) for k, v in query.items() if v is not None]
        if pairs:
            url += "?" + urlencode(pairs)
    return url


def _query_value(value: str | int | bool) -> str:
    # The Engine API spells booleans 1/0 (docker-py's True/False also parse).
    if isinstance(value, bool):
        return "1" if value else "0"
    return str(value)


def _seg(name: str) -> str:
    """Quote a name or id for a path; image names keep their ``/`` and ``:``."""
    return quote(name, safe="/:@")


def _encode_body(
    body: Any, headers: Mapping[str, str] | None
) -> tuple[Any, dict[str, str]]:
    """JSON-encode mappings; pass files and bytes through (files go chunked)."""
    all_headers = dict(headers or {})
    if body is None or isinstance(body, bytes) or hasattr(body, "read"):
        return body, all_headers
    all_headers.setdefault("Content-Type", "application/json")
    return json.dumps(body).encode(), all_headers


def _decode(raw: bytes) -> Any:
    if not raw.strip():
        return None
    return json.loads(raw)


def _api_error(response: http.client.HTTPResponse) -> APIError:
    """Build the error from the ``{"message": ...}`` body, whatever the body is."""
    raw = response.read()
    try:
        message = json.loads(raw)["message"]
    except (ValueError, KeyError, TypeError):
        message = raw.decode("utf-8", errors="replace").strip() or response.reason
    return APIError(response.status, str(message))
