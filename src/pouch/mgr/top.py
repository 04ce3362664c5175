"""``docker top``: the host's ``ps`` output, cut down to a container's processes.

As dockerd does, ``ps`` runs on the host with the client's arguments; the rows kept
are those whose PID column names one of the task's processes.
"""

from __future__ import annotations

import asyncio
import shlex
from typing import Any

from pouch.errors import InvalidParameter, PouchError


async def top(pids: list[int], ps_args: str) -> dict[str, Any]:
    args = shlex.split(ps_args or "-ef")
    proc = await asyncio.create_subprocess_exec(
        "ps", *args,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await proc.communicate()
    if proc.returncode != 0:
        raise PouchError(
            f"Error running ps: exit status {proc.returncode}: "
            f"{err.decode(errors='replace').strip()}"
        )
    return parse_ps(out.decode(errors="replace"), set(pids))


def parse_ps(output: str, pids: set[int]) -> dict[str, Any]:
    lines = [line for line in output.splitlines() if line.strip()]
    if not lines:
        return {"Titles": [], "Processes": []}
    titles = lines[0].split()
    if "PID" not in titles:
        raise InvalidParameter("Couldn't find PID field in ps output")
    at = titles.index("PID")
    processes = []
    for line in lines[1:]:
        fields = line.split(None, len(titles) - 1)
        if len(fields) > at and fields[at].isdigit() and int(fields[at]) in pids:
            processes.append(fields)
    return {"Titles": titles, "Processes": processes}
