"""The example plugin again, as a process of its own: HTTP with JSON on a unix socket.

It uses nothing but Python's standard library, to show that a plugin needs no part of
pouch; any language that can serve HTTP on a unix socket can do the same. Run it, then
pouchd (which finds the socket in its plugin socket directory)::

    python3 examples/remote_plugin.py /run/pouch/plugins/example.sock &
    pouchd

Like examples/hook_plugin.py, it prints a line at each point and adds one prestart
hook that touches /tmp/pre_start_hook after the network is set up (priority -4).
The protocol is in docs/plugins.md.
"""

import json
import os
import signal
import socketserver
import sys
from http.server import BaseHTTPRequestHandler

POINTS = [
    "pre_start_hook",
    "pre_stop_hook",
    "pre_create",
    "pre_start",
    "pre_create_endpoint",
]


def pre_start_hook(request):
    print("pre-start hook in daemon is called", flush=True)
    return {}


def pre_stop_hook(request):
    print("pre-stop hook in daemon is called", flush=True)
    return {}


def pre_create(request):
    print("pre create method called", flush=True)
    return {"Body": request["Body"]}  # base64 of the create body, passed on as is


def pre_start(request):
    print("pre start method called", flush=True)
    # Negative priority: run after the container's network is set up.
    return {
        "Priorities": [-4],
        "Hooks": [["/usr/bin/touch", "touch", "/tmp/pre_start_hook"]],
    }


def pre_create_endpoint(request):
    print("pre create endpoint", flush=True)
    return {"Priority": 0, "DisableResolver": False, "GenericParams": {}}


HANDLERS = {f"/PouchPlugin.{name}": globals()[name] for name in POINTS}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self):
        length = int(self.headers.get("Content-Length") or 0)
        request = json.loads(self.rfile.read(length) or b"{}")
        if self.path == "/Plugin.Activate":
            self.reply(200, {"Name": "example", "Implements": POINTS})
        elif self.path in HANDLERS:
            try:
                self.reply(200, HANDLERS[self.path](request))
            except Exception as exc:
                self.reply(500, {"Err": repr(exc)})
        else:
            self.reply(404, {"Err": f"no such call {self.path}"})

    def reply(self, status, body):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def address_string(self):
        return "pouchd"  # a unix socket peer has no address

    def log_message(self, format, *args):
        pass


class Server(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True


def main():
    path = sys.argv[1] if len(sys.argv) > 1 else "/run/pouch/plugins/example.sock"
    os.makedirs(os.path.dirname(path), exist_ok=True)
    if os.path.exists(path):
        os.unlink(path)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    with Server(path, Handler) as server:
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            pass
        finally:
            os.unlink(path)


if __name__ == "__main__":
    main()
