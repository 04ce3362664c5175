"""A plugin that misbehaves on demand, in-process or as a process of its own.

Copy it into a directory; ``faults.json`` beside the copy maps a point to a fault,
read at every call:

- ``raise``: the point raises (a process plugin answers 500 with ``Err``);
- ``hang``: the call takes HANG seconds, then answers as usual;
- ``wrong``: an answer of the wrong shape;
- ``crash`` (process only): the process exits in the middle of the call.

Without a fault each point does something visible: pre_create adds the label
``fault-plugin=seen``, pre_start adds a hook that touches ``marker`` beside the copy,
pre_create_endpoint asks for priority 10.
Loaded by pouchd as a module, it is an in-process plugin; run as
``python fault_plugin.py SOCKET``, it serves the same on a unix socket with nothing
but the standard library.
"""

import base64
import io
import json
import os
import socketserver
import sys
import time
from http.server import BaseHTTPRequestHandler
from pathlib import Path

HERE = Path(__file__).resolve().parent
FAULTS = HERE / "faults.json"
MARKER = HERE / "marker"
HANG = 4.0

POINTS = ["pre_start_hook", "pre_stop_hook", "pre_create", "pre_start",
          "pre_create_endpoint"]  # fmt: skip


def fault(point):
    faults = json.loads(FAULTS.read_text()) if FAULTS.exists() else {}
    return faults.get(point, "")


def normal(point, *args):
    if point == "pre_create":
        request = json.loads(args[0].read())
        request["Labels"] = {**(request.get("Labels") or {}), "fault-plugin": "seen"}
        return json.dumps(request).encode()
    if point == "pre_start":
        return [-1], [["/usr/bin/touch", "touch", str(MARKER)]]
    if point == "pre_create_endpoint":
        return 10, False, {"team": "blue"}
    return None


WRONG = {"pre_create": 42, "pre_start": ([1], []), "pre_create_endpoint": "x"}


def call(point, *args):
    kind = fault(point)
    if kind == "raise":
        raise RuntimeError("injected fault at " + point)
    if kind == "hang":
        time.sleep(HANG)
    if kind == "wrong":
        return WRONG.get(point)
    return normal(point, *args)


class DaemonPlugin:
    def pre_start_hook(self):
        return call("pre_start_hook")

    def pre_stop_hook(self):
        return call("pre_stop_hook")


class ContainerPlugin:
    def pre_create(self, body):
        return call("pre_create", body)

    def pre_start(self, container):
        return call("pre_start", container)

    def pre_create_endpoint(self, container_id, env):
        return call("pre_create_endpoint", container_id, env)


# -- as a process ------------------------------------------------------------------


def answer(point, request):
    kind = fault(point)
    if kind == "crash":
        os._exit(3)
    if kind == "raise":
        return 500, {"Err": "injected fault at " + point}
    if kind == "hang":
        time.sleep(HANG)
    if kind == "wrong":
        return 200, [1, 2]
    if point == "pre_create":
        body = normal(point, io.BytesIO(base64.b64decode(request["Body"])))
        return 200, {"Body": base64.b64encode(body).decode()}
    if point == "pre_start":
        priorities, hooks = normal(point)
        return 200, {"Priorities": priorities, "Hooks": hooks}
    if point == "pre_create_endpoint":
        priority, disable, params = normal(point)
        return 200, {"Priority": priority, "DisableResolver": disable,
                     "GenericParams": params}  # fmt: skip
    return 200, {}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self):
        length = int(self.headers.get("Content-Length") or 0)
        request = json.loads(self.rfile.read(length) or b"{}")
        if self.path == "/Plugin.Activate":
            status, body = 200, {"Implements": POINTS}
        else:
            status, body = answer(self.path.removeprefix("/PouchPlugin."), request)
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def address_string(self):
        return "pouchd"

    def log_message(self, format, *args):
        pass


class Server(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True


def serve(path):
    import signal

    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    if os.path.exists(path):
        os.unlink(path)
    with Server(path, Handler) as server:
        try:
            server.serve_forever()
        finally:
            os.unlink(path)


if __name__ == "__main__":
    serve(sys.argv[1])
