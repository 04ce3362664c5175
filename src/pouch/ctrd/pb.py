"""The generated protobuf and gRPC modules, typed as ``Any``.

The stubs are generated at install time without type information, and their
message classes are made at import time, which a type checker cannot see. Importing
them here, once, keeps ``type: ignore`` out of the modules that use them.
"""

from importlib import import_module
from typing import Any

_API = "pouch.ctrd._api"


def _load(name: str) -> Any:
    return import_module(f"{_API}.{name}")


containers_pb2: Any = _load("services.containers.v1.containers_pb2")
containers_grpc: Any = _load("services.containers.v1.containers_pb2_grpc")
content_pb2: Any = _load("services.content.v1.content_pb2")
content_grpc: Any = _load("services.content.v1.content_pb2_grpc")
diff_pb2: Any = _load("services.diff.v1.diff_pb2")
diff_grpc: Any = _load("services.diff.v1.diff_pb2_grpc")
images_pb2: Any = _load("services.images.v1.images_pb2")
images_grpc: Any = _load("services.images.v1.images_pb2_grpc")
leases_pb2: Any = _load("services.leases.v1.leases_pb2")
leases_grpc: Any = _load("services.leases.v1.leases_pb2_grpc")
snapshots_pb2: Any = _load("services.snapshots.v1.snapshots_pb2")
snapshots_grpc: Any = _load("services.snapshots.v1.snapshots_pb2_grpc")
tasks_pb2: Any = _load("services.tasks.v1.tasks_pb2")
tasks_grpc: Any = _load("services.tasks.v1.tasks_pb2_grpc")
version_grpc: Any = _load("services.version.v1.version_pb2_grpc")
descriptor_pb2: Any = _load("types.descriptor_pb2")
mount_pb2: Any = _load("types.mount_pb2")
task_pb2: Any = _load("types.task.task_pb2")
runc_options_pb2: Any = _load("runc.options.oci_pb2")
