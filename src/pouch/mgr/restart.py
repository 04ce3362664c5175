"""Restart policies: which exits start a container again, and how soon.

The rules are dockerd's: ``always`` and ``unless-stopped`` restart after any exit,
``on-failure[:N]`` after a non-zero one (at most N times when N is given); an exit
that a user asked for (stop, kill through stop, rm -f) restarts nothing. When the
daemon starts, ``always`` containers start again, and ``unless-stopped`` ones unless
a user had stopped them: that mark is a file in the container's directory, so it
outlives the daemon.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from pouch.errors import InvalidParameter

POLICIES = ("", "no", "always", "unless-stopped", "on-failure")
STOPPED_MARK = "stopped-by-user"
_FIRST_DELAY = 0.1
_MAX_DELAY = 60.0


@dataclass(frozen=True)
class Policy:
    name: str
    maximum_retries: int = 0


def check(name: str, maximum_retries: int) -> None:
    """Validation at create time, in dockerd's words."""
    if name not in POLICIES:
        raise InvalidParameter(f"invalid restart policy '{name}'")
    if maximum_retries < 0:
        raise InvalidParameter("maximum retry count cannot be negative")
    if maximum_retries and name != "on-failure":
        raise InvalidParameter(
            f"invalid restart policy: maximum retry count can only be used with "
            f"'on-failure', got '{name}'"
        )


def should_restart(policy: Policy, exit_code: int, restarts: int) -> bool:
    if policy.name in ("always", "unless-stopped"):
        return True
    if policy.name == "on-failure" and exit_code != 0:
        return not policy.maximum_retries or restarts < policy.maximum_retries
    return False


def starts_with_daemon(policy: Policy, directory: Path) -> bool:
    if policy.name == "always":
        return True
    return policy.name == "unless-stopped" and not (directory / STOPPED_MARK).exists()


def delay(restarts: int) -> float:
    """Doubling back-off, as dockerd's, so a crashing container does not spin."""
    return float(min(_FIRST_DELAY * (2**restarts), _MAX_DELAY))


def mark_stopped(directory: Path, stopped: bool) -> None:
    mark = directory / STOPPED_MARK
    if stopped:
        directory.mkdir(parents=True, exist_ok=True)
        mark.touch()
    else:
        mark.unlink(missing_ok=True)
