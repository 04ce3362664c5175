"""Running ``poststop`` hooks from the daemon.

runc runs a spec's poststop hooks whenever its task is deleted. pouchd deletes the
task at every exit, including the exits a restart policy answers with a new start,
and poststop hooks must run once per stop of the container, not once per task. So
they are kept out of the spec: the daemon runs them itself, after the final exit,
the way runc would (the container's state JSON on stdin, exactly the hook's own
environment, its timeout).
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

log = logging.getLogger("pouch.plugin")

DEFAULT_TIMEOUT = 10.0


def state_json(container_id: str, bundle: str, annotations: dict[str, str]) -> bytes:
    state = {
        "ociVersion": "1.0.2",
        "id": container_id,
        "status": "stopped",
        "pid": 0,
        "bundle": bundle,
        "annotations": annotations,
    }
    return json.dumps(state, separators=(",", ":")).encode()  # as runc writes it


async def run_hooks(
    hooks: list[dict[str, Any]], state: bytes, container_id: str
) -> None:
    """Each hook in order; a failing hook is logged and the next one still runs,
    as runc does for poststop."""
    for hook in hooks:
        try:
            await _run(hook, state)
        except Exception as exc:
            log.warning(
                "container %s: poststop hook %s failed: %s",
                container_id,
                hook.get("path"),
                exc,
            )


async def _run(hook: dict[str, Any], state: bytes) -> None:
    args = list(hook.get("args") or [hook["path"]])
    env = dict(entry.split("=", 1) for entry in hook.get("env") or [] if "=" in entry)
    proc = await asyncio.create_subprocess_exec(
        args[0],  # argv[0]; the program is ``executable``
        *args[1:],
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
        env=env,
        executable=hook["path"],
    )
    timeout = float(hook.get("timeout") or DEFAULT_TIMEOUT)
    try:
        _, err = await asyncio.wait_for(proc.communicate(state), timeout)
    except TimeoutError:
        proc.kill()
        await proc.wait()
        raise RuntimeError(f"no exit within {timeout:g} s") from None
    if proc.returncode != 0:
        raise RuntimeError(f"exit status {proc.returncode}: {err.decode()[-200:]}")
