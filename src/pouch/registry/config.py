"""Where a registry name leads: mirrors, plain HTTP, and which CAs to trust.

Docker's rules, kept: names on ``docker.io`` go to the configured mirrors first
and to ``registry-1.docker.io`` last; a registry listed as insecure (by host, by
host:port or by CIDR, with loopback addresses insecure by default) is tried over
HTTPS without verification and then over plain HTTP; any other registry needs
TLS that verifies, against the system's CAs plus ``<certs-dir>/<host>/*.crt``.
"""

from __future__ import annotations

import ipaddress
import ssl
from dataclasses import dataclass, field
from pathlib import Path

from pouch.ctrd.reference import DEFAULT_DOMAIN

DOCKER_HUB_ENDPOINT = "https://registry-1.docker.io"
DEFAULT_CERTS_DIR = Path("/etc/pouch/certs.d")
_DEFAULT_INSECURE = ("127.0.0.0/8", "::1/128")


@dataclass(frozen=True)
class Endpoint:
    """One base URL to try for a registry, and how to check its TLS."""

    url: str
    tls: ssl.SSLContext | bool
    mirror: bool = False


@dataclass
class RegistryConfig:
    """The daemon's registry settings (``registry-mirrors``, ``insecure-registries``,
    ``registry-certs-dir``)."""

    mirrors: list[str] = field(default_factory=list)
    insecure: list[str] = field(default_factory=list)
    certs_dir: Path = DEFAULT_CERTS_DIR

    def endpoints(self, domain: str) -> list[Endpoint]:
        """The base URLs to try for ``domain``, in order."""
        found = []
        if domain == DEFAULT_DOMAIN:
            for mirror in self.mirrors:
                found += self._for_url(mirror.rstrip("/"), mirror=True)
            found.append(Endpoint(DOCKER_HUB_ENDPOINT, self.tls_context(domain)))
            return found
        if self.is_insecure(domain):
            return [
                Endpoint(f"https://{domain}", False),
                Endpoint(f"http://{domain}", False),
            ]
        return [Endpoint(f"https://{domain}", self.tls_context(domain))]

    def _for_url(self, url: str, mirror: bool) -> list[Endpoint]:
        host = url.split("://", 1)[-1].split("/", 1)[0]
        if url.startswith("http://"):
            return [Endpoint(url, False, mirror)]
        tls: ssl.SSLContext | bool = self.tls_context(host)
        if self.is_insecure(host):
            tls = False
        return [Endpoint(url, tls, mirror)]

    def is_insecure(self, host: str) -> bool:
        """Listed by name (with or without port) or by CIDR; loopback by default."""
        name = _hostname(host)
        if host in self.insecure or name in self.insecure:
            return True
        try:
            address = ipaddress.ip_address(name)
        except ValueError:
            return False
        for cidr in [*_DEFAULT_INSECURE, *self.insecure]:
            try:
                if address in ipaddress.ip_network(cidr, strict=False):
                    return True
            except ValueError:
                continue
        return False

    def tls_context(self, host: str) -> ssl.SSLContext:
        """System CAs plus every ``*.crt`` under ``<certs-dir>/<host>``."""
        context = ssl.create_default_context()
        folder = self.certs_dir / host
        if folder.is_dir():
            for ca in sorted(folder.glob("*.crt")):
                context.load_verify_locations(cafile=str(ca))
        return context


def _hostname(host: str) -> str:
    """``host`` without its port; IPv6 brackets removed."""
    if host.startswith("["):
        return host[1:].split("]", 1)[0]
    if host.count(":") == 1:
        return host.split(":", 1)[0]
    return host
