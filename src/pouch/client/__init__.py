"""A thin HTTP client for pouchd's API over a unix socket (standard library only).

Never imports daemon code, and imports nothing heavy at module load: the CLI starts
in tens of milliseconds. The names below are re-exported lazily, so importing
``pouch.client`` (or its errors) does not load ``http.client`` until a request is
made.

- ``api``: ``Client``, one method per API call, and ``Stream`` for long bodies.
- ``hosts``: ``-H``/``POUCH_HOST`` resolution.
- ``streams``: chunk iteration, the 8-byte frame demultiplexer, JSON message streams.
- ``errors``: ``APIError``, ``DaemonUnreachable`` and ``ConnectionLost``.
"""

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .api import API_VERSION, Client, Stream
    from .errors import APIError, ClientError, ConnectionLost, DaemonUnreachable
    from .hosts import DEFAULT_HOST, Host, parse_host, resolve_host
    from .streams import FrameDemuxer, demux, encode_frame

__all__ = [
    "API_VERSION",
    "DEFAULT_HOST",
    "APIError",
    "Client",
    "ClientError",
    "ConnectionLost",
    "DaemonUnreachable",
    "FrameDemuxer",
    "Host",
    "Stream",
    "demux",
    "encode_frame",
    "parse_host",
    "resolve_host",
]

_EXPORTS = {
    "API_VERSION": "api",
    "Client": "api",
    "Stream": "api",
    "APIError": "errors",
    "ClientError": "errors",
    "ConnectionLost": "errors",
    "DaemonUnreachable": "errors",
    "DEFAULT_HOST": "hosts",
    "Host": "hosts",
    "parse_host": "hosts",
    "resolve_host": "hosts",
    "FrameDemuxer": "streams",
    "demux": "streams",
    "encode_frame": "streams",
}


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(import_module(f".{module}", __name__), name)
