"""Credentials: the ``X-Registry-Auth`` header, docker's config.json, challenges.

The docker CLI sends credentials to the daemon as base64url-encoded JSON in
``X-Registry-Auth``; it keeps them in ``~/.docker/config.json`` under ``auths``,
keyed by server, as base64 of ``user:password``. Docker Hub's key is its old
index URL. Registries say how to authenticate in a ``WWW-Authenticate``
challenge: ``Basic realm=...`` or ``Bearer realm=...,service=...,scope=...``.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pouch.ctrd.reference import DEFAULT_DOMAIN

DOCKER_HUB_SERVER = "https://index.docker.io/v1/"
_PARAM = re.compile(r'(\w+)=(?:"([^"]*)"|([^,\s]*))')


@dataclass(frozen=True)
class Credentials:
    username: str = ""
    password: str = ""
    identity_token: str = ""

    def basic(self) -> str:
        raw = f"{self.username}:{self.password}".encode()
        return "Basic " + base64.b64encode(raw).decode()


@dataclass(frozen=True)
class Challenge:
    scheme: str
    params: dict[str, str]


def decode_header(value: str | None) -> Credentials | None:
    """The credentials in an ``X-Registry-Auth`` header; None if it holds none.

    Raises ValueError if the header is not base64url JSON.
    """
    if not value:
        return None
    padded = value + "=" * (-len(value) % 4)
    try:
        data = json.loads(base64.urlsafe_b64decode(padded))
    except (ValueError, binascii.Error) as err:
        raise ValueError(
            "invalid X-Registry-Auth header: expected base64url-encoded JSON"
        ) from err
    if not isinstance(data, dict):
        raise ValueError("invalid X-Registry-Auth header: expected a JSON object")
    creds = Credentials(
        str(data.get("username") or ""),
        str(data.get("password") or ""),
        str(data.get("identitytoken") or ""),
    )
    return creds if (creds.username or creds.identity_token) else None


def encode_header(creds: Credentials, server: str) -> str:
    """The ``X-Registry-Auth`` value a client sends for ``creds``."""
    doc = {"username": creds.username, "password": creds.password}
    if creds.identity_token:
        doc["identitytoken"] = creds.identity_token
    doc["serveraddress"] = server
    return base64.urlsafe_b64encode(json.dumps(doc).encode()).decode()


def parse_challenge(header: str) -> Challenge | None:
    """The first challenge of a ``WWW-Authenticate`` header."""
    scheme, _, rest = header.strip().partition(" ")
    if not scheme:
        return None
    params = {m[0].lower(): m[1] or m[2] for m in _PARAM.findall(rest)}
    return Challenge(scheme.lower(), params)


# -- docker's config.json -------------------------------------------------------


def config_path() -> Path:
    """``$DOCKER_CONFIG/config.json``, else ``~/.docker/config.json``."""
    folder = os.environ.get("DOCKER_CONFIG") or str(Path.home() / ".docker")
    return Path(folder) / "config.json"


def server_key(domain: str) -> str:
    """The ``auths`` key docker uses for a registry domain."""
    return DOCKER_HUB_SERVER if domain == DEFAULT_DOMAIN else domain


def load_credentials(domain: str, path: Path | None = None) -> Credentials | None:
    auths = _read(path or config_path()).get("auths") or {}
    key = server_key(domain)
    for candidate in (key, f"https://{key}", f"http://{key}"):
        entry = auths.get(candidate)
        if not isinstance(entry, dict):
            continue
        # A login to a registry with OAuth keeps an identity token beside ``auth``.
        token = str(entry.get("identitytoken") or "")
        if entry.get("auth"):
            creds = _decode_entry(str(entry["auth"]), candidate)
            return dataclasses.replace(creds, identity_token=token) if token else creds
        if token:
            return Credentials(identity_token=token)
    return None


def store_credentials(
    domain: str, creds: Credentials, path: Path | None = None
) -> Path:
    """Record ``creds`` for ``domain``; the file stays readable by its owner only."""
    path = path or config_path()
    doc = _read(path)
    raw = f"{creds.username}:{creds.password}".encode()
    doc.setdefault("auths", {})[server_key(domain)] = {
        "auth": base64.b64encode(raw).decode()
    }
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(doc, indent="\t") + "\n")
    tmp.chmod(0o600)
    tmp.replace(path)
    return path


def remove_credentials(domain: str, path: Path | None = None) -> bool:
    path = path or config_path()
    doc = _read(path)
    if doc.get("auths", {}).pop(server_key(domain), None) is None:
        return False
    path.write_text(json.dumps(doc, indent="\t") + "\n")
    return True


def _read(path: Path) -> dict[str, Any]:
    try:
        doc = json.loads(path.read_text())
    except FileNotFoundError:
        return {}
    except ValueError as err:
        raise ValueError(f"{path} is not JSON: {err}") from err
    return doc if isinstance(doc, dict) else {}


def _decode_entry(auth: str, key: str) -> Credentials:
    try:
        user, _, password = base64.b64decode(auth).decode().partition(":")
    except (ValueError, binascii.Error) as err:
        raise ValueError(
            f"credentials for {key} in docker's config are not base64"
        ) from err
    return Credentials(user, password)
