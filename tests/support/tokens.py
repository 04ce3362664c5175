"""A small token service for a registry's bearer auth, as Docker Hub's auth is.

The registry names this service in its ``WWW-Authenticate`` challenge; the client
trades its basic credentials (or none) here for a JWT scoped to a repository, with
a GET; or, with a POST, an identity token (an OAuth2 refresh token that a login
handed out) for the same, as the distribution project's token specification has it.
The JWT is RS256, signed with openssl using the key of a self-signed certificate
that the registry trusts (``rootcertbundle``), and carries the certificate in
its ``x5c`` header. Anonymous callers get pull access to ``public/`` only.
"""

from __future__ import annotations

import base64
import json
import secrets
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

from tests.support.registry import Tls

ISSUER = "pouch-test-issuer"
SERVICE = "pouch-test-registry"


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class TokenServer:
    def __init__(
        self,
        tls: Tls,
        users: dict[str, str],
        refresh_tokens: dict[str, str] | None = None,
    ) -> None:
        self.tls = tls
        self.users = users
        self.refresh_tokens = refresh_tokens or {}  # token -> user
        self.requests: list[dict[str, Any]] = []
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def realm(self) -> str:
        return f"http://127.0.0.1:{self.server.server_port}/token"

    def registry_auth(self) -> dict[str, str]:
        return {
            "realm": self.realm,
            "service": SERVICE,
            "issuer": ISSUER,
            "rootcertbundle": str(self.tls.cert),
        }

    def start(self) -> TokenServer:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's naming
                owner._serve(self)

            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                owner._serve_oauth(self)

            def log_message(self, *args: Any) -> None:
                pass

        return Handler

    def _serve(self, req: BaseHTTPRequestHandler) -> None:
        query = parse_qs(urlparse(req.path).query)
        user = self._user(req.headers.get("Authorization", ""))
        scope = query.get("scope", [""])[0]
        self.requests.append({"user": user, "scope": scope})
        if user is False:
            req.send_response(401)
            req.end_headers()
            return
        body = json.dumps({"token": self.token(user or "", scope)}).encode()
        req.send_response(200)
        req.send_header("Content-Type", "application/json")
        req.send_header("Content-Length", str(len(body)))
        req.end_headers()
        req.wfile.write(body)

    def _serve_oauth(self, req: BaseHTTPRequestHandler) -> None:
        length = int(req.headers.get("Content-Length") or 0)
        form = parse_qs(req.rfile.read(length).decode())
        grant = form.get("grant_type", [""])[0]
        scope = form.get("scope", [""])[0]
        user = self.refresh_tokens.get(form.get("refresh_token", [""])[0])
        self.requests.append({"user": user, "scope": scope, "grant": grant,
                              "client_id": form.get("client_id", [""])[0]})  # fmt: skip
        if grant != "refresh_token" or user is None:
            req.send_response(401)
            req.end_headers()
            return
        token = self.token(user, scope)
        body = json.dumps({"access_token": token, "expires_in": 300}).encode()
        req.send_response(200)
        req.send_header("Content-Type", "application/json")
        req.send_header("Content-Length", str(len(body)))
        req.end_headers()
        req.wfile.write(body)

    def _user(self, header: str) -> str | None | bool:
        """The user named by good basic credentials, None for none, False for bad."""
        if not header.startswith("Basic "):
            return None
        user, _, password = base64.b64decode(header[6:]).decode().partition(":")
        return user if self.users.get(user) == password else False

    def token(self, user: str, scope: str) -> str:
        access = []
        kind, _, rest = scope.partition(":")
        name, _, actions = rest.rpartition(":")
        if kind == "repository" and name:
            allowed = actions.split(",") if user else ["pull"]
            if user or name.startswith("public/"):
                access.append({"type": "repository", "name": name, "actions": allowed})
        now = int(time.time())
        claims = {
            "iss": ISSUER, "sub": user, "aud": SERVICE, "exp": now + 300,
            "nbf": now - 10, "iat": now, "jti": secrets.token_hex(8), "access": access,
        }  # fmt: skip
        header = {"typ": "JWT", "alg": "RS256", "x5c": [self._cert_der_b64()]}
        signing_input = (
            _b64url(json.dumps(header).encode())
            + "."
            + _b64url(json.dumps(claims).encode())
        )
        signature = subprocess.run(
            ["openssl", "dgst", "-sha256", "-sign", str(self.tls.key)],
            input=signing_input.encode(), capture_output=True, check=True,
        ).stdout  # fmt: skip
        return signing_input + "." + _b64url(signature)

    def _cert_der_b64(self) -> str:
        lines = Path(self.tls.cert).read_text().splitlines()
        return "".join(line for line in lines if not line.startswith("-----"))
