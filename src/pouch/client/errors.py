"""The client's errors: one for each way a call can fail, raised in one place.

ClientError
├── APIError           the daemon answered with a non-2xx status
└── DaemonUnreachable  nothing answered on the host's socket
"""


class ClientError(Exception):
    """Base of everything the client raises on purpose."""


class APIError(ClientError):
    """The daemon refused a request; ``message`` is its ``{"message": ...}`` text."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message

    @property
    def is_not_found(self) -> bool:
        return self.status == 404


class DaemonUnreachable(ClientError):
    """The socket is missing or refused: the daemon is most likely not running."""

    def __init__(self, host: str, cause: OSError) -> None:
        super().__init__(f"Cannot connect to the pouchd daemon at {host}: {cause}")
        self.host = host
        self.cause = cause


class ConnectionLost(ClientError):
    """A response ended early or malformed (the daemon died or closed mid-way)."""

    def __init__(self, host: str, cause: Exception) -> None:
        super().__init__(f"lost the connection to the daemon at {host}: {cause!r}")
        self.host = host
        self.cause = cause
