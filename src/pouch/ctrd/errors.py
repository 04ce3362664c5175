"""Errors raised by the containerd layer.

    ContainerdError              anything containerd refused or failed at
    ├── ContainerdNotFound       no such image, container, task or snapshot
    ├── ContainerdAlreadyExists  the id or name is taken
    └── ContainerdUnavailable    containerd is not answering (stopped, restarting)

gRPC status errors are translated here, once, and chained with ``raise ... from`` so
the original status stays in tracebacks. ``mgr`` translates these in turn.
"""

import grpc


class ContainerdError(Exception):
    """containerd answered with an error, or could not be reached or started."""


class ContainerdNotFound(ContainerdError):
    """The object named in the call does not exist in containerd."""


class ContainerdAlreadyExists(ContainerdError):
    """The object named in the call exists already."""


class ContainerdUnavailable(ContainerdError):
    """containerd did not answer: callers may retry once it is back."""


_BY_CODE: dict[grpc.StatusCode, type[ContainerdError]] = {
    grpc.StatusCode.NOT_FOUND: ContainerdNotFound,
    grpc.StatusCode.ALREADY_EXISTS: ContainerdAlreadyExists,
    grpc.StatusCode.UNAVAILABLE: ContainerdUnavailable,
}


def translate(err: grpc.aio.AioRpcError, what: str) -> ContainerdError:
    """Map a gRPC error to our hierarchy; ``what`` names the call and its object."""
    cls = _BY_CODE.get(err.code(), ContainerdError)
    detail = err.details() or err.code().name
    return cls(f"{what}: {detail}")
