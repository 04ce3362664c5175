"""Image references: Docker's short names and containerd's full ones.

Users type ``busybox``; containerd stores ``docker.io/library/busybox:latest``. The
rules follow Docker's reference grammar: the first path component is a registry only
if it looks like a host (has a dot or a port, or is ``localhost``); names on Docker
Hub without a namespace live under ``library/``; a reference with neither tag nor
digest means ``:latest``.
"""

import re
from dataclasses import dataclass

DEFAULT_DOMAIN = "docker.io"
LEGACY_DOMAIN = "index.docker.io"
OFFICIAL_NAMESPACE = "library"
DEFAULT_TAG = "latest"

_COMPONENT = re.compile(r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*")
_DOMAIN = re.compile(
    r"(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)"
    r"(?:\.(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?))*"
    r"(?::[0-9]+)?"
)
_TAG = re.compile(r"[\w][\w.-]{0,127}")
_DIGEST = re.compile(r"[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-fA-F0-9]{32,}")
_HEX_ID = re.compile(r"[a-f0-9]{64}")
_MAX_NAME = 255


def normalize(ref: str) -> str:
    """Return the full form of ``ref``, as containerd names images.

    ``busybox`` becomes ``docker.io/library/busybox:latest``.

    Raises ValueError naming the reference and the rule it breaks.
    """
    name, tag, digest = _split(ref)
    domain, path = _split_domain(ref, name)
    _check_path(ref, path)
    full = f"{domain}/{path}"
    if tag:
        full += f":{tag}"
    if digest:
        full += f"@{digest}"
    if not tag and not digest:
        full += f":{DEFAULT_TAG}"
    return full


@dataclass(frozen=True)
class Reference:
    """A normalized reference in its parts, as the registry protocol needs them:
    ``domain`` (``docker.io``), ``path`` (``library/busybox``), and the ``tag``
    and/or ``digest`` (a reference with neither has the tag ``latest``)."""

    domain: str
    path: str
    tag: str
    digest: str

    @property
    def full(self) -> str:
        name = f"{self.domain}/{self.path}"
        if self.tag:
            name += f":{self.tag}"
        if self.digest:
            name += f"@{self.digest}"
        return name

    @property
    def object(self) -> str:
        """What to ask a registry's manifests endpoint for: digest, else tag."""
        return self.digest or self.tag


def parse(ref: str) -> Reference:
    """Split and normalize ``ref``; raises ValueError as ``normalize`` does."""
    name, tag, digest = _split(ref)
    domain, path = _split_domain(ref, name)
    _check_path(ref, path)
    if not tag and not digest:
        tag = DEFAULT_TAG
    return Reference(domain, path, tag, digest)


def familiar(name: str) -> str:
    """Return Docker's short form of a reference: ``busybox:latest``."""
    full = normalize(name)
    prefix = f"{DEFAULT_DOMAIN}/"
    if not full.startswith(prefix):
        return full
    short = full[len(prefix) :]
    official = f"{OFFICIAL_NAMESPACE}/"
    remainder = short[len(official) :]
    if short.startswith(official) and "/" not in remainder.split(":")[0]:
        return remainder
    return short


def repository(name: str) -> str:
    """Return the full reference without its tag or digest."""
    full = normalize(name)
    repo = full.split("@", 1)[0]
    slash = repo.rfind("/")
    colon = repo.rfind(":")
    return repo[:colon] if colon > slash else repo


def _split(ref: str) -> tuple[str, str, str]:
    """Split ``ref`` into name, tag and digest, validating the last two."""
    if not ref:
        raise ValueError("invalid reference format: empty reference")
    if _HEX_ID.fullmatch(ref):
        raise ValueError(
            f"invalid repository name ({ref}): cannot specify 64-byte hexadecimal "
            "strings"
        )
    name, _, digest = ref.partition("@")
    if digest and not _DIGEST.fullmatch(digest):
        raise ValueError(f"invalid reference format: bad digest in {ref!r}")
    tag = ""
    colon = name.rfind(":")
    if colon > name.rfind("/"):
        name, tag = name[:colon], name[colon + 1 :]
        if not _TAG.fullmatch(tag):
            raise ValueError(f"invalid reference format: bad tag {tag!r} in {ref!r}")
    if not name:
        raise ValueError(f"invalid reference format: no repository name in {ref!r}")
    return name, tag, digest


def _split_domain(ref: str, name: str) -> tuple[str, str]:
    """Split off the registry, applying Docker Hub's defaults."""
    first, sep, rest = name.partition("/")
    is_domain = sep and ("." in first or ":" in first or first == "localhost")
    if is_domain:
        if not _DOMAIN.fullmatch(first):
            raise ValueError(f"invalid reference format: bad registry in {ref!r}")
        domain, path = first, rest
    else:
        domain, path = DEFAULT_DOMAIN, name
    if domain == LEGACY_DOMAIN:
        domain = DEFAULT_DOMAIN
    if domain == DEFAULT_DOMAIN and "/" not in path:
        path = f"{OFFICIAL_NAMESPACE}/{path}"
    return domain, path


def _check_path(ref: str, path: str) -> None:
    """Check each path component against Docker's grammar."""
    if len(path) > _MAX_NAME:
        raise ValueError(
            f"invalid reference format: repository name in {ref!r} is longer than "
            f"{_MAX_NAME} characters"
        )
    for component in path.split("/"):
        if _COMPONENT.fullmatch(component):
            continue
        if _COMPONENT.fullmatch(component.lower()):
            raise ValueError(
                f"invalid reference format: repository name must be lowercase: {ref!r}"
            )
        raise ValueError(
            f"invalid reference format: bad path component {component!r} in {ref!r}"
        )
