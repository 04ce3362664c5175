"""Errors of the registry layer; ``mgr`` translates them.

RegistryError            the registry refused or could not be reached
├── RegistryAuthError    credentials missing or refused (401, 403)
├── RegistryNotFound     no such manifest or repository (404)
└── DigestMismatch       a blob or manifest is not what its digest says
"""


class RegistryError(Exception):
    """A registry refused a request or could not be reached; says which and why."""


class RegistryAuthError(RegistryError):
    pass


class RegistryNotFound(RegistryError):
    pass


class DigestMismatch(RegistryError):
    pass
