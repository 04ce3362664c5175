"""What a plugin costs at each point: no plugin, an in-process no-op plugin, and a
no-op plugin process on a unix socket, called through the daemon's plugin manager.

Prints the median time per call of each point for each, and the overhead of each
plugin against no plugin. Not a test: nothing is asserted.

    .venv/bin/python bench/plugins.py [--calls 500]

The process plugin is this file run as ``bench/plugins.py --serve SOCKET``: the
standard library's HTTP server, threaded, answering every point with the no-op result.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import socketserver
import statistics
import subprocess
import sys
import tempfile
import time
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
POINTS = ["pre_start_hook", "pre_stop_hook", "pre_create", "pre_start",
          "pre_create_endpoint"]  # fmt: skip
BODY = json.dumps({"Image": "busybox", "Cmd": ["sleep", "300"]}).encode()
CONTAINER = {"Id": "0" * 64, "Name": "/bench", "Config": {"Env": ["A=1"]}}

NOOP_PLUGIN = """
class DaemonPlugin:
    def pre_start_hook(self):
        pass

    def pre_stop_hook(self):
        pass


class ContainerPlugin:
    def pre_create(self, body):
        return body

    def pre_start(self, container):
        return [], []

    def pre_create_endpoint(self, container_id, env):
        return 0, False, {}
"""


# -- the plugin process ------------------------------------------------------------


class NoopHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    ANSWERS: dict[str, Any] = {
        "/PouchPlugin.pre_start": {"Priorities": [], "Hooks": []},
        "/PouchPlugin.pre_create_endpoint": {"Priority": 0},
        "/Plugin.Activate": {"Implements": POINTS},
    }

    def do_POST(self) -> None:
        request = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        answer = self.ANSWERS.get(self.path, {})
        if self.path == "/PouchPlugin.pre_create":
            answer = {"Body": request["Body"]}
        data = json.dumps(answer).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def address_string(self) -> str:
        return "pouchd"

    def log_message(self, format: str, *args: Any) -> None:
        pass


class NoopServer(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True


def serve(path: str) -> None:
    with NoopServer(path, NoopHandler) as server:
        server.serve_forever()


# -- the measurement ---------------------------------------------------------------


async def call(manager: Any, point: str) -> None:
    if point == "pre_create":
        await manager.pre_create(BODY)
    elif point == "pre_start":
        await manager.pre_start(CONTAINER)
    elif point == "pre_create_endpoint":
        await manager.pre_create_endpoint(CONTAINER["Id"], ["A=1"])
    else:
        await getattr(manager, point)()


async def medians(manager: Any, calls: int) -> dict[str, float]:
    result = {}
    for point in POINTS:
        for _ in range(min(20, calls)):  # warm up: imports, connections, caches
            await call(manager, point)
        samples = []
        for _ in range(calls):
            started = time.perf_counter()
            await call(manager, point)
            samples.append(time.perf_counter() - started)
        result[point] = statistics.median(samples) * 1e6
    return result


async def measure(tmp: Path, calls: int) -> dict[str, dict[str, float]]:
    from pouch.hookplugins import PluginManager, load_plugin
    from pouch.hookplugins.remote import connect
    from pouch.hookplugins.settings import PluginSettings

    module = tmp / "noop_plugin.py"
    module.write_text(NOOP_PLUGIN)
    sock = tmp / "noop.sock"
    server = subprocess.Popen([sys.executable, __file__, "--serve", str(sock)])
    try:
        while not sock.exists():
            await asyncio.sleep(0.01)
        remote = await connect(PluginSettings(path=f"unix://{sock}"))
        managers = {
            "none": PluginManager([]),
            "in-process": PluginManager([load_plugin(str(module))]),
            "process": PluginManager([remote]),
        }
        results = {name: await medians(m, calls) for name, m in managers.items()}
        await remote.close()
        return results
    finally:
        server.terminate()
        server.wait()


def report(results: dict[str, dict[str, float]], calls: int) -> None:
    print(f"median per call over {calls} calls, in microseconds")
    print(f"{'point':22} {'none':>9} {'in-process':>11} {'overhead':>10} "
          f"{'process':>9} {'overhead':>10}")  # fmt: skip
    for point in POINTS:
        none = results["none"][point]
        local = results["in-process"][point]
        remote = results["process"][point]
        print(f"{point:22} {none:9.1f} {local:11.1f} {local - none:+10.1f} "
              f"{remote:9.1f} {remote - none:+10.1f}")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--calls", type=int, default=500)
    parser.add_argument("--serve", metavar="SOCKET", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve)
        return
    sys.path.insert(0, str(ROOT / "src"))
    with tempfile.TemporaryDirectory(prefix="pouch-bench-plugins-") as tmp:
        results = asyncio.run(measure(Path(tmp), args.calls))
    report(results, args.calls)


if __name__ == "__main__":
    main()
