"""The ``pouchd`` executable.

Besides the daemon, the same executable serves short-lived roles that the runtime, or
the daemon itself, starts, so it dispatches on its first argument before importing
anything heavy:

- ``pouchd libnetwork-setkey <container id> <controller id>``: the OCI prestart hook
  that hands a container's network namespace to the daemon.
- ``pouchd json-file <path>``: the log program that containerd's shim starts for a
  container (``binary://`` stdio), writing its output in json-file format.
- ``pouchd chroot-archive <action> <root> <path>``: the daemon's copies out of and
  into a container (``docker cp``), done chrooted into the container's root.
"""

import sys


def main() -> None:
    argv = sys.argv[1:]
    role = argv[0] if argv else ""
    if role == "libnetwork-setkey":
        from pouch.network.setkey import run_hook

        sys.exit(run_hook(argv[1:]))
    if role == "json-file":
        from pouch.ctrd.logwriter import run_logger

        sys.exit(run_logger(argv[1:]))
    if role == "chroot-archive":
        from pouch.mgr.chrootarchive import run_helper

        sys.exit(run_helper(argv[1:]))

    from pouch.daemon.main import run

    sys.exit(run(argv))
