"""Aligned text tables, laid out like Go's tabwriter as docker uses it.

Each column is as wide as its widest cell plus three spaces; the last column is not
padded, so lines carry no trailing blanks.
"""

from collections.abc import Sequence

_PADDING = 3


def format_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """The table as lines joined by newlines, headers first."""
    lines = [list(headers), *[list(row) for row in rows]]
    widths = [max(len(line[i]) for line in lines) for i in range(len(headers))]
    return "\n".join(_format_line(line, widths) for line in lines)


def _format_line(cells: Sequence[str], widths: Sequence[int]) -> str:
    padded = [
        cell.ljust(width + _PADDING) for cell, width in zip(cells, widths, strict=True)
    ]
    padded[-1] = cells[-1]
    return "".join(padded).rstrip()


def ellipsis(text: str, width: int) -> str:
    """Cut ``text`` to ``width`` characters, the last one an ellipsis."""
    if len(text) <= width:
        return text
    return text[: width - 1] + "…"


def short_id(identifier: str) -> str:
    """The 12-character form of an id, without its ``sha256:`` prefix."""
    return identifier.removeprefix("sha256:")[:12]
