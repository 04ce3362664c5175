"""One repository on one registry, over HTTP: manifests and blobs in and out.

Authentication follows the registry's challenge. ``open_repository`` pings
``/v2/`` on each endpoint in turn; an endpoint that cannot be reached (refused,
TLS failing) gives way to the next, as Docker's fallback does. A ``401`` names
the scheme: Basic takes the credentials as they are, Bearer trades them at the
realm for a token scoped to this repository. Uploads stream their body once, so
the token is fetched before them, never in answer to one.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import urljoin

import aiohttp

from pouch.ctrd.imagespec import (
    DOCKER_MANIFEST,
    DOCKER_MANIFEST_LIST,
    OCI_INDEX,
    OCI_MANIFEST,
    sha256_digest,
)
from pouch.registry.auth import Challenge, Credentials, parse_challenge
from pouch.registry.config import Endpoint, RegistryConfig
from pouch.registry.errors import (
    DigestMismatch,
    RegistryAuthError,
    RegistryError,
    RegistryNotFound,
)

log = logging.getLogger("pouch.image")

T = TypeVar("T")
# The OAuth client this engine names itself as when it trades an identity token.
OAUTH_CLIENT_ID = "pouch"

MANIFEST_ACCEPT = ", ".join(
    [OCI_INDEX, DOCKER_MANIFEST_LIST, OCI_MANIFEST, DOCKER_MANIFEST]
)
_TIMEOUT = aiohttp.ClientTimeout(total=None, connect=30, sock_connect=30, sock_read=120)
_CHUNK = 1024 * 1024
# Errors that mean "this endpoint is not there", not "the registry said no".
_UNREACHABLE = (aiohttp.ClientConnectionError, aiohttp.ClientSSLError, OSError)


@dataclass(frozen=True)
class Manifest:
    body: bytes
    media_type: str
    digest: str


class Repository:
    """A repository (``library/busybox``) on one endpoint, with its credentials."""

    def __init__(
        self,
        endpoint: Endpoint,
        domain: str,
        path: str,
        creds: Credentials | None,
        actions: str,
    ) -> None:
        self.endpoint = endpoint
        self.domain = domain
        self.path = path
        self.creds = creds
        self.actions = actions
        self._auth: str | None = None
        connector = aiohttp.TCPConnector(ssl=endpoint.tls, limit=8)
        self.session = aiohttp.ClientSession(connector=connector, timeout=_TIMEOUT)

    @property
    def where(self) -> str:
        return f"{self.domain}/{self.path}"

    async def close(self) -> None:
        await self.session.close()

    # -- authentication --------------------------------------------------------

    async def ping(self) -> None:
        """Check the endpoint speaks v2 and authenticate if it asks."""
        async with self.session.get(self._url("/v2/")) as resp:
            status = resp.status
            if status == 401:
                await self._answer(resp)
        if status == 401:
            # Basic credentials are only checked by using them.
            async with self.session.get(
                self._url("/v2/"), headers=self._headers()
            ) as resp:
                status = resp.status
            if status in (401, 403):
                raise self._denied("the registry refused the credentials")
        if status >= 400 and status != 404:
            raise RegistryError(
                f"registry {self.endpoint.url} answered /v2/ with {status}"
            )

    async def _answer(self, resp: aiohttp.ClientResponse) -> None:
        """Set the Authorization header from a 401's challenge."""
        challenge = parse_challenge(resp.headers.get("WWW-Authenticate", ""))
        if challenge is None or challenge.scheme not in ("basic", "bearer"):
            raise RegistryAuthError(
                f"registry {self.domain} asks for authentication it does not name"
            )
        if challenge.scheme == "basic":
            if self.creds is None:
                raise self._denied("no credentials given")
            self._auth = self.creds.basic()
            return
        self._auth = "Bearer " + await self._token(challenge)

    async def _token(self, challenge: Challenge) -> str:
        realm = challenge.params.get("realm")
        if not realm:
            raise RegistryAuthError(
                f"registry {self.domain}: bearer challenge has no realm"
            )
        scope = f"repository:{self.path}:{self.actions}"
        service = challenge.params.get("service", "")
        if self.creds is not None and self.creds.identity_token:
            request = self._oauth_request(realm, scope, service, self.creds)
        else:
            request = self._basic_request(realm, scope, service)
        async with request as resp:
            if resp.status in (401, 403):
                raise self._denied(
                    f"the token service at {realm} refused the credentials"
                )
            if resp.status >= 400:
                raise RegistryAuthError(f"token service {realm} answered {resp.status}")
            doc = await resp.json(content_type=None)
        token = (
            doc.get("token") or doc.get("access_token")
            if isinstance(doc, dict)
            else None
        )
        if not token:
            raise RegistryAuthError(f"token service {realm} answered without a token")
        return str(token)

    def _basic_request(
        self, realm: str, scope: str, service: str
    ) -> Any:  # aiohttp's request context manager
        """GET the token, with the basic credentials if there are any."""
        query = {"scope": scope}
        if service:
            query["service"] = service
        headers = {}
        if self.creds is not None:
            headers["Authorization"] = self.creds.basic()
        return self.session.get(realm, params=query, headers=headers)

    def _oauth_request(
        self, realm: str, scope: str, service: str, creds: Credentials
    ) -> Any:  # aiohttp's request context manager
        """POST the identity token a login gave (an OAuth2 refresh token) for an
        access token, as the token specification of the distribution project has it."""
        form = {
            "grant_type": "refresh_token",
            "refresh_token": creds.identity_token,
            "client_id": OAUTH_CLIENT_ID,
            "scope": scope,
        }
        if service:
            form["service"] = service
        return self.session.post(realm, data=form)

    def _denied(self, why: str) -> RegistryAuthError:
        verb = "push" if "push" in self.actions else "pull"
        return RegistryAuthError(
            f"{verb} access denied for {self.where}: {why}; "
            "repository does not exist or may require 'pouch login'"
        )

    # -- requests ----------------------------------------------------------------

    def _url(self, path: str) -> str:
        return self.endpoint.url + path

    def _headers(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        headers = dict(extra or {})
        if self._auth:
            headers["Authorization"] = self._auth
        return headers

    async def _get(
        self, method: str, path: str, headers: dict[str, str] | None = None
    ) -> aiohttp.ClientResponse:
        """A request without a body; answers one 401 by authenticating again."""
        url = path if "://" in path else self._url(path)
        resp = await self.session.request(method, url, headers=self._headers(headers))
        if resp.status == 401:
            await self._answer(resp)
            resp.release()
            resp = await self.session.request(
                method, url, headers=self._headers(headers)
            )
        if resp.status in (401, 403):
            resp.release()
            raise self._denied(f"{resp.status} for {method} {path}")
        return resp

    # -- manifests -----------------------------------------------------------------

    async def get_manifest(self, ref: str) -> Manifest:
        """A manifest or index by tag or digest, checked against its digest."""
        resp = await self._get(
            "GET", f"/v2/{self.path}/manifests/{ref}", {"Accept": MANIFEST_ACCEPT}
        )
        async with resp:
            if resp.status == 404:
                raise RegistryNotFound(f"manifest for {self.where}:{ref} not found")
            await _check(resp, f"manifest {self.where}:{ref}")
            body = await resp.read()
            media_type = resp.headers.get("Content-Type", "").split(";")[0]
            claimed = resp.headers.get("Docker-Content-Digest", "")
        digest = sha256_digest(body)
        expected = ref if ref.startswith("sha256:") else claimed
        if expected and expected != digest:
            raise DigestMismatch(
                f"manifest {self.where}:{ref}: digest mismatch: expected {expected}, "
                f"got {digest}"
            )
        return Manifest(body, _media_type(body, media_type), digest)

    async def put_manifest(self, tag: str, manifest: Manifest) -> None:
        url = self._url(f"/v2/{self.path}/manifests/{tag}")
        headers = self._headers({"Content-Type": manifest.media_type})
        async with self.session.put(url, data=manifest.body, headers=headers) as resp:
            await _check(resp, f"manifest {self.where}:{tag}")

    # -- blobs ---------------------------------------------------------------------

    async def open_blob(self, digest: str) -> aiohttp.ClientResponse:
        """The blob's response, to be read in chunks and closed by the caller."""
        resp = await self._get("GET", f"/v2/{self.path}/blobs/{digest}")
        if resp.status == 404:
            resp.release()
            raise RegistryNotFound(f"blob {digest} not found in {self.where}")
        try:
            await _check(resp, f"blob {digest} of {self.where}")
        except BaseException:
            resp.release()
            raise
        return resp

    async def has_blob(self, digest: str) -> bool:
        resp = await self._get("HEAD", f"/v2/{self.path}/blobs/{digest}")
        async with resp:
            if resp.status == 404:
                return False
            await _check(resp, f"blob {digest} of {self.where}")
            return True

    async def upload_blob(
        self, digest: str, size: int, chunks: AsyncIterator[bytes]
    ) -> None:
        """Start an upload, stream the blob in one PATCH, close it with its digest."""
        resp = await self._get("POST", f"/v2/{self.path}/blobs/uploads/")
        async with resp:
            await _check(resp, f"upload to {self.where}")
            location = urljoin(self._url("/"), resp.headers["Location"])
        headers = self._headers(
            {"Content-Type": "application/octet-stream", "Content-Length": str(size)}
        )
        async with self.session.patch(location, data=chunks, headers=headers) as resp:
            await _check(resp, f"upload of {digest} to {self.where}")
            location = urljoin(self._url("/"), resp.headers["Location"])
        sep = "&" if "?" in location else "?"
        headers = self._headers({"Content-Length": "0"})
        async with self.session.put(
            f"{location}{sep}digest={digest}", headers=headers
        ) as resp:
            await _check(resp, f"upload of {digest} to {self.where}")


async def first_answer(
    config: RegistryConfig,
    domain: str,
    path: str,
    creds: Credentials | None,
    attempt: Callable[[Repository], Awaitable[T]],
    actions: str = "pull",
    mirrors: bool = True,
) -> tuple[T, Repository]:
    """``attempt`` on each endpoint in turn until one answers; the caller closes
    the repository returned.

    Endpoints are tried lazily, so a mirror that has the image means the
    upstream registry is never contacted. An endpoint that cannot be reached
    gives way to the next; so does a mirror that fails in any way. If none
    answers, the error says what each one did.
    """
    failures: list[str] = []
    for endpoint in config.endpoints(domain):
        if endpoint.mirror and not mirrors:
            continue
        repo = Repository(endpoint, domain, path, creds, actions)
        try:
            await repo.ping()
            return await attempt(repo), repo
        except _UNREACHABLE as err:
            failures.append(f"{endpoint.url}: {err}")
            log.debug("registry endpoint %s unreachable: %s", endpoint.url, err)
        except RegistryError as err:
            if not endpoint.mirror:
                await repo.close()
                raise
            failures.append(f"{endpoint.url}: {err}")
            log.info("mirror %s failed for %s/%s: %s", endpoint.url, domain, path, err)
        except BaseException:
            await repo.close()
            raise
        await repo.close()
    raise RegistryError(
        f"cannot reach registry {domain}: " + "; ".join(failures or ["no endpoint"])
    )


async def _nothing(repo: Repository) -> None:
    return None


async def connect(
    config: RegistryConfig,
    domain: str,
    path: str,
    creds: Credentials | None,
    actions: str = "pull",
    mirrors: bool = True,
) -> Repository:
    """The first endpoint that answers ``/v2/`` (authenticated if it asks)."""
    _, repo = await first_answer(
        config, domain, path, creds, _nothing, actions, mirrors
    )
    return repo


async def _check(resp: aiohttp.ClientResponse, what: str) -> None:
    if resp.status < 400:
        return
    detail = await _error_detail(resp)
    if resp.status == 404:
        raise RegistryNotFound(f"{what}: not found: {detail}")
    if resp.status in (401, 403):
        raise RegistryAuthError(f"{what}: access denied: {detail}")
    raise RegistryError(f"{what}: registry answered {resp.status}: {detail}")


async def _error_detail(resp: aiohttp.ClientResponse) -> str:
    """The registry's ``errors[].message``, else the body's start."""
    text = (await resp.text(errors="replace"))[:500]
    try:
        import json

        doc: Any = json.loads(text)
        return "; ".join(str(e.get("message", e)) for e in doc["errors"])
    except (ValueError, KeyError, TypeError, AttributeError):
        return text.strip() or resp.reason or ""


def _media_type(body: bytes, header: str) -> str:
    """The manifest's own ``mediaType`` wins over a generic Content-Type."""
    import json

    try:
        doc = json.loads(body)
        own = doc.get("mediaType")
    except (ValueError, AttributeError):
        doc, own = {}, None
    if own:
        return str(own)
    if header and header not in ("application/json", "application/octet-stream"):
        return header
    return OCI_INDEX if "manifests" in doc else OCI_MANIFEST
