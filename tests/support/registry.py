"""A real registry (Debian's ``docker-registry``, i.e. distribution) on loopback.

Each instance has its own config, storage and free port on 127.0.0.1, and may
turn on basic auth (htpasswd, bcrypt), token auth (a realm the test serves) or
TLS (a certificate the test makes with openssl).
"""

from __future__ import annotations

import shutil
import socket
import ssl
import subprocess
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

REGISTRY_BIN = shutil.which("docker-registry") or "/usr/bin/docker-registry"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass(frozen=True)
class Tls:
    cert: Path
    key: Path


def make_tls(folder: Path, host: str = "localhost") -> Tls:
    """A self-signed certificate for ``host`` (and 127.0.0.1), made by openssl."""
    folder.mkdir(parents=True, exist_ok=True)
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        [
            "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes",
            "-keyout", str(key), "-out", str(cert), "-days", "2",
            "-subj", f"/CN={host}",
            "-addext", f"subjectAltName=DNS:{host},IP:127.0.0.1",
        ],
        check=True, capture_output=True,
    )  # fmt: skip
    return Tls(cert, key)


def htpasswd(path: Path, user: str, password: str) -> Path:
    out = subprocess.run(
        ["htpasswd", "-Bbn", user, password], check=True, capture_output=True, text=True
    ).stdout
    path.write_text(out)
    return path


class Registry:
    def __init__(
        self,
        root: Path,
        *,
        htpasswd_file: Path | None = None,
        tls: Tls | None = None,
        token: dict[str, str] | None = None,
        host: str = "127.0.0.1",
    ) -> None:
        self.root = root
        self.port = free_port()
        self.host = f"{host}:{self.port}"
        self.storage = root / "storage"
        self.tls = tls
        self.htpasswd_file = htpasswd_file
        self.token = token
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"{'https' if self.tls else 'http'}://{self.host}"

    def config(self) -> str:
        lines = [
            "version: 0.1",
            "log:",
            "  level: info",
            "storage:",
            "  filesystem:",
            f"    rootdirectory: {self.storage}",
            "  delete:",
            "    enabled: true",
            "http:",
            f"  addr: 127.0.0.1:{self.port}",
            f"  secret: pouch-test-{self.port}",
        ]
        if self.tls:
            lines += [
                "  tls:",
                f"    certificate: {self.tls.cert}",
                f"    key: {self.tls.key}",
            ]
        if self.htpasswd_file:
            lines += [
                "auth:",
                "  htpasswd:",
                "    realm: pouch-test",
                f"    path: {self.htpasswd_file}",
            ]
        elif self.token:
            lines += ["auth:", "  token:"]
            lines += [f"    {k}: {v}" for k, v in self.token.items()]
        return "\n".join(lines) + "\n"

    def start(self) -> Registry:
        self.root.mkdir(parents=True, exist_ok=True)
        config = self.root / "config.yml"
        config.write_text(self.config())
        log = open(self.root / "registry.log", "ab")
        self.proc = subprocess.Popen(
            [REGISTRY_BIN, "serve", str(config)], stdout=log, stderr=log
        )
        log.close()
        self._wait()
        return self

    def _wait(self, timeout: float = 30) -> None:
        context = ssl._create_unverified_context() if self.tls else None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.proc is not None
            if self.proc.poll() is not None:
                raise RuntimeError(f"registry exited:\n{self.log()}")
            try:
                urllib.request.urlopen(f"{self.url}/v2/", timeout=2, context=context)
                return
            except urllib.error.HTTPError:
                return  # 401 is an answer too
            except OSError:
                time.sleep(0.1)
        raise RuntimeError(f"registry did not answer in {timeout}s:\n{self.log()}")

    def log(self) -> str:
        path = self.root / "registry.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def blob_data(self, digest: str) -> Path:
        """Where the registry keeps a blob's bytes in its storage."""
        hex_ = digest.split(":", 1)[1]
        return (
            self.storage / "docker" / "registry" / "v2" / "blobs" / "sha256"
            / hex_[:2] / hex_ / "data"
        )  # fmt: skip


class SlowProxy:
    """A TCP relay on 127.0.0.1 that sends the upstream's answers at a set rate,
    so that a test can break a pull off in the middle of a download."""

    def __init__(self, upstream_port: int, bytes_per_second: int) -> None:
        import threading

        self.upstream_port = upstream_port
        self.rate = bytes_per_second
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(16)
        self.port = int(self.listener.getsockname()[1])
        self.host = f"127.0.0.1:{self.port}"
        self._stopped = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        import threading

        while not self._stopped:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(("127.0.0.1", self.upstream_port))
            threading.Thread(
                target=self._pipe, args=(client, upstream, 0), daemon=True
            ).start()  # noqa: E501
            threading.Thread(
                target=self._pipe, args=(upstream, client, self.rate), daemon=True
            ).start()  # noqa: E501

    def _pipe(self, src: socket.socket, dst: socket.socket, rate: int) -> None:
        chunk = max(rate // 20, 1024) if rate else 65536
        try:
            while data := src.recv(chunk):
                dst.sendall(data)
                if rate:
                    time.sleep(len(data) / rate)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                s.close()

    def stop(self) -> None:
        self._stopped = True
        self.listener.close()
