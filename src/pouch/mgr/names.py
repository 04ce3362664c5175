"""Container ids and names: generation and the rules a name must follow."""

from __future__ import annotations

import re
import secrets

from pouch.errors import InvalidParameter

NAME_RULE = re.compile(r"^/?[a-zA-Z0-9][a-zA-Z0-9_.-]+$")

_ADJECTIVES = (
    "brave calm eager fancy gentle happy jolly keen lucid merry nimble proud quiet "
    "swift witty"
).split()
_NOUNS = (
    "albatross badger crane dolphin egret falcon gecko heron ibis jaguar koala lemur "
    "marten newt otter"
).split()


def new_id() -> str:
    return secrets.token_hex(32)


def random_name() -> str:
    return (
        f"{secrets.choice(_ADJECTIVES)}_{secrets.choice(_NOUNS)}_{secrets.token_hex(2)}"
    )


def check_name(name: str) -> str:
    """The name without its leading slash, or 400 naming the rule."""
    if not NAME_RULE.match(name):
        raise InvalidParameter(
            f"Invalid container name ({name}), only [a-zA-Z0-9][a-zA-Z0-9_.-] "
            "are allowed"
        )
    return name.lstrip("/")
