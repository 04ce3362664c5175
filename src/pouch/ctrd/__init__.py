"""containerd: the process pouchd supervises and the gRPC client that drives it.

Only ``mgr`` and ``daemon`` import from here. Generated stubs live in ``_api`` (made at
install time by scripts/gen_protos.py, never committed).
"""
