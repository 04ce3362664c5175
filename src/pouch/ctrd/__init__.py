"""containerd: the process pouchd supervises and the gRPC client that drives it.

Only ``mgr`` and ``daemon`` import from here. Generated stubs live in ``_api`` (made at
install time by scripts/gen_protos.py, never committed).

- ``client``: ``Containerd``, the asynchronous client (images, rootfs, containers,
  tasks); ``images``, ``content``, ``archive`` and ``conn`` are its parts.
- ``supervisor``: ``ContainerdProcess``, a containerd child under the home dir.
- ``jsonlog``: the json-file log writer the shim runs, and the reader.
- ``reference``: image reference normalization (``busybox`` and back).
- ``errors``: the errors all of the above raise.
"""
