"""Sizes and durations, read and written the way docker's tools spell them.

Memory flags take binary units (``64m`` is 64 MiB) while ``images`` prints decimal
ones (``4.26MB``) and ``info`` binary ones (``15.5GiB``); docker mixes them exactly
so, and scripts that parse the output expect it.
"""

import re

_BINARY = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40, "p": 1 << 50}
_SIZE = re.compile(r"^(\d+(?:\.\d+)?) ?([kmgtp]?)(?:i?b)?$", re.IGNORECASE)
_DECIMAL_UNITS = ("B", "kB", "MB", "GB", "TB", "PB", "EB", "ZB", "YB")
_BINARY_UNITS = ("B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB", "ZiB", "YiB")


def parse_size(text: str) -> int:
    """Bytes in a memory size such as ``64m``, ``1g``, ``1.5GiB`` or ``1024``."""
    match = _SIZE.match(text.strip())
    if match is None:
        raise ValueError(f"invalid size: {text!r}")
    number, unit = match.groups()
    return int(float(number) * _BINARY[unit.lower()])


def human_size(size: float, precision: int = 3) -> str:
    """Decimal units with ``precision`` significant digits (``docker images``)."""
    return _scaled(size, 1000.0, _DECIMAL_UNITS, precision)


def binary_size(size: float) -> str:
    """Binary units with four significant digits (``docker info``'s memory)."""
    return _scaled(size, 1024.0, _BINARY_UNITS, 4)


def _scaled(size: float, base: float, units: tuple[str, ...], precision: int) -> str:
    index = 0
    while size >= base and index < len(units) - 1:
        size /= base
        index += 1
    return f"{size:.{precision}g}{units[index]}"


def human_duration(seconds: float) -> str:
    """A rough duration, as docker words it ("About a minute", "3 hours")."""
    whole = int(seconds)
    if whole < 1:
        return "Less than a second"
    if whole < 60:
        return "1 second" if whole == 1 else f"{whole} seconds"
    minutes = whole // 60
    if minutes < 60:
        return "About a minute" if minutes == 1 else f"{minutes} minutes"
    return _hours_and_more(seconds)


def _hours_and_more(seconds: float) -> str:
    # Hours round to nearest; the larger units are whole divisions of them.
    hours = int(seconds / 3600 + 0.5)
    if hours == 1:
        return "About an hour"
    if hours < 48:
        return f"{hours} hours"
    if hours < 24 * 7 * 2:
        return f"{hours // 24} days"
    if hours < 24 * 30 * 2:
        return f"{hours // (24 * 7)} weeks"
    if hours < 24 * 365 * 2:
        return f"{hours // (24 * 30)} months"
    return f"{int(seconds / 3600) // (24 * 365)} years"
