"""A real pouchd in a temporary home dir, with its own containerd and bridge."""

from __future__ import annotations

import http.client
import itertools
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from pouch.client.api import Client
from pouch.client.errors import APIError

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
BUSYBOX_TAR = ROOT / "build" / "images" / "busybox.tar"

_bridges = itertools.count(1)
JSON = "application/json"


def remove_bridge(bridge: str) -> None:
    """Deletes a test daemon's bridge and every iptables rule that names it, in
    whichever chain the network layer put it."""
    subprocess.run(["ip", "link", "del", bridge], capture_output=True)
    for table in ("nat", "filter"):
        listing = subprocess.run(
            ["iptables", "-w", "-t", table, "-S"], capture_output=True, text=True
        ).stdout
        for rule in listing.splitlines():
            words = rule.split()
            if words[:1] == ["-A"] and bridge in words:
                delete = ["iptables", "-w", "-t", table, "-D", *words[1:]]
                subprocess.run(delete, capture_output=True)


class Pouchd:
    """Starts, stops and talks to one pouchd. Each instance gets its own bridge and
    subnet so that several can run at once beside the session's daemon."""

    def __init__(
        self,
        home: Path,
        plugins: list[str] | None = None,
        bridge: str | None = None,
        bip: str | None = None,
        extra_args: list[str] | None = None,
    ) -> None:
        n = next(_bridges)
        self.home = home
        self.socket = home / "pouchd.sock"
        self.host = f"unix://{self.socket}"
        self.log_path = home / "pouchd.log"
        self.plugins = plugins or []
        self.bridge = bridge or f"pd{secrets.token_hex(2)}x{n}"
        self.bip = bip or f"10.{200 + n % 50}.{os.getpid() % 250}.1/24"
        self.extra_args = extra_args or []
        self.proc: subprocess.Popen[bytes] | None = None
        self.client = Client(self.host)

    @property
    def plugin_socket_dir(self) -> Path:
        return self.home / "plugins"

    @property
    def hooks_dir(self) -> Path:
        return self.home / "hooks.d"

    def argv(self) -> list[str]:
        argv = [
            str(BIN / "pouchd"),
            "--config-file", str(self.home / "no-config.json"),
            "--home-dir", str(self.home),
            "-l", self.host,
            "--bip", self.bip,
            "--bridge-name", self.bridge,
            "--log-level", "debug",
            # Plugin and hook directories of its own, never the host's.
            "--plugin-socket-dir", str(self.plugin_socket_dir),
            "--plugin-spec-dir", str(self.home / "plugin-specs"),
            "--hooks-dir", str(self.hooks_dir),
        ]  # fmt: skip
        for plugin in self.plugins:
            argv += ["--plugin", plugin]
        return argv + self.extra_args

    def start(self, wait: bool = True) -> Pouchd:
        self.home.mkdir(parents=True, exist_ok=True)
        (self.home / "no-config.json").write_text("{}")
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(self.argv(), stdout=log, stderr=log)
        log.close()
        if wait:
            self.wait_ready()
        return self

    def wait_ready(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.proc is not None
            if self.proc.poll() is not None:
                raise RuntimeError(
                    f"pouchd exited with {self.proc.returncode}:\n{self.log()}"
                )
            try:
                self.client.request("GET", "/_ping").read()
                return
            except Exception:
                time.sleep(0.1)
        raise RuntimeError(f"pouchd did not answer in {timeout}s:\n{self.log()}")

    def stop(self, timeout: float = 60) -> int:
        if self.proc is None:
            return 0
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            code = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            code = self.proc.wait()
        self.proc = None
        return code

    def remove_bridge(self) -> None:
        """The default bridge and its NAT rules outlive a daemon, as docker0 does;
        a test daemon's are removed after it."""
        remove_bridge(self.bridge)

    def log(self) -> str:
        return (
            self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
        )

    # -- API shortcuts ---------------------------------------------------------

    def api(self, method: str, path: str, body: Any = None, **query: Any) -> Any:
        return self.client.call(method, path, query or None, body)

    def status_of(
        self, method: str, path: str, body: Any = None, **query: Any
    ) -> tuple[int, Any]:  # noqa: E501
        """(status, JSON body) without raising for errors."""
        try:
            stream = self.client.request(method, path, query or None, body)
            return stream.response.status, stream.json()
        except APIError as exc:
            return exc.status, {"message": exc.message}

    def send(
        self, method: str, path: str, body: bytes = b"", content_type: str = JSON
    ) -> tuple[int, str, bytes]:
        """One request as it goes on the wire, no client in between: (status,
        Content-Type, body). ``path`` carries its own query string."""
        conn = http.client.HTTPConnection("localhost", timeout=60)
        sock = socket.socket(socket.AF_UNIX)
        sock.connect(str(self.socket))
        conn.sock = sock
        try:
            conn.request(method, path, body, {"Content-Type": content_type})
            response = conn.getresponse()
            data = response.read()
        finally:
            conn.close()
        return response.status, response.getheader("Content-Type") or "", data

    def load_busybox(self) -> None:
        self.load(BUSYBOX_TAR)

    def load(self, archive: Path) -> bytes:
        """POST /images/load of an image tarball; the answer's stream."""
        with open(archive, "rb") as tarball:
            stream = self.client.request(
                "POST", "/images/load", None, tarball,
                {"Content-Type": "application/x-tar"},
            )  # fmt: skip
            return stream.read()

    def run(self, cmd: list[str], **body: Any) -> str:
        """Create and start a busybox container; its id."""
        cid = self.create(cmd, **body)
        self.api("POST", f"/containers/{cid}/start")
        return cid

    def create(self, cmd: list[str], name: str | None = None, **body: Any) -> str:
        request = {"Image": "busybox", "Cmd": cmd, **body}
        query = {"name": name} if name else {}
        return str(self.api("POST", "/containers/create", request, **query)["Id"])

    def inspect(self, cid: str) -> dict[str, Any]:
        doc: dict[str, Any] = self.api("GET", f"/containers/{cid}/json")
        return doc

    def wait(self, cid: str) -> int:
        return int(self.api("POST", f"/containers/{cid}/wait")["StatusCode"])

    def logs(self, cid: str) -> bytes:
        from pouch.client.streams import demux

        stream = self.client.request(
            "GET", f"/containers/{cid}/logs", {"stdout": 1, "stderr": 1}
        )
        return b"".join(data for _, data in demux(stream.chunks()))

    def remove_all(self) -> None:
        for c in self.api("GET", "/containers/json", all=1):
            self.api("DELETE", f"/containers/{c['Id']}", force=1)

    def config_json(self, cid: str) -> dict[str, Any]:
        path = (
            self.home / "containerd" / "state" / "io.containerd.runtime.v2.task"
            / "default" / cid / "config.json"
        )  # fmt: skip
        return dict(json.loads(path.read_text()))
