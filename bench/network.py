"""What networking adds to a container's start, against ``--network none``.

Each variant creates a busybox container, then times only ``POST .../start`` (the
endpoints, the ``libnetwork-setkey`` hook wiring the namespace, the embedded DNS
server, the port listeners and rules), then removes it. ``none`` has a network
namespace of its own but no endpoint, so the difference is the network's cost.

Prints the median of each over --runs and its difference from ``none``. Not a
test: nothing is asserted.
"""

from __future__ import annotations

import argparse
import shutil
import socket
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.support.daemon import Pouchd  # noqa: E402

NETWORK = "benchnet"
SUBNET = "10.252.9.0/24"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def variants() -> dict[str, Any]:
    """Create bodies by name; ports are picked afresh on each call."""
    return {
        "none": lambda: {"HostConfig": {"NetworkMode": "none"}},
        "default bridge": lambda: {},
        "user network (+dns)": lambda: {"HostConfig": {"NetworkMode": NETWORK}},
        "user network + -p": lambda: {
            "HostConfig": {
                "NetworkMode": NETWORK,
                "PortBindings": {"80/tcp": [{"HostPort": str(free_port())}]},
            }
        },
    }


def time_starts(d: Pouchd, body: Any, runs: int) -> list[float]:
    samples = []
    for _ in range(runs):
        cid = d.create(["sleep", "300"], **body())
        started = time.perf_counter()
        d.api("POST", f"/containers/{cid}/start")
        samples.append(time.perf_counter() - started)
        d.api("DELETE", f"/containers/{cid}", force=1)
    return samples


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="pouch-netbench-"))
    daemon = Pouchd(tmp / "home", bridge="pnbench0", bip="10.252.8.1/24")
    daemon.extra_args = ["--log-level", "info"]
    try:
        daemon.start()
        daemon.load_busybox()
        daemon.api("POST", "/networks/create", {
            "Name": NETWORK, "IPAM": {"Config": [{"Subnet": SUBNET}]},
            "Options": {"com.docker.network.bridge.name": "pnbench1"},
        })  # fmt: skip
        time_starts(daemon, lambda: {}, 2)  # warm caches
        medians = {
            name: statistics.median(time_starts(daemon, body, args.runs)) * 1000
            for name, body in variants().items()
        }
        base = medians["none"]
        print(f"start medians over {args.runs} runs each")
        print(f"{'network':24} {'median':>10} {'vs none':>10}")
        for name, value in medians.items():
            print(f"{name:24} {value:8.1f}ms {value - base:+8.1f}ms")
    finally:
        daemon.remove_all()
        daemon.status_of("DELETE", f"/networks/{NETWORK}")
        daemon.stop()
        daemon.remove_bridge()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
