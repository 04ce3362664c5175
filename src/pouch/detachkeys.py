"""Detach keys (``ctrl-p,ctrl-q``, ``a,ctrl-@``) as the bytes a terminal sends.

The client and the daemon both read them, so this module imports nothing.
"""

DEFAULT_DETACH_KEYS = "ctrl-p,ctrl-q"


class DetachKeysError(ValueError):
    """A detach key spec that names no key a terminal sends; the message says why."""


def parse_detach_keys(text: str | None) -> bytes:
    """The byte sequence for ``text``, or for the default when it is empty."""
    spec = text or DEFAULT_DETACH_KEYS
    keys = bytearray()
    for part in spec.split(","):
        part = part.strip()
        if len(part) == 1:
            keys.append(ord(part))
        elif part.lower().startswith("ctrl-") and len(part) == 6:
            code = ord(part[5].upper()) - 64
            if not 0 <= code < 32:
                raise DetachKeysError(f"Invalid detach keys ({spec}): bad key {part}")
            keys.append(code)
        else:
            raise DetachKeysError(
                f"Invalid detach keys ({spec}): expected keys like ctrl-p or a, "
                "separated by commas"
            )
    return bytes(keys)
