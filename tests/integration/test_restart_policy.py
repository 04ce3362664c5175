"""Restart policies, while the daemon runs and across its restarts."""

from __future__ import annotations

import os
import signal
import time
from typing import Any

from tests.support.daemon import Pouchd


def _policy(name: str, retries: int = 0) -> dict[str, Any]:
    return {
        "HostConfig": {"RestartPolicy": {"Name": name, "MaximumRetryCount": retries}}
    }  # noqa: E501


def _until(check: Any, timeout: float = 20) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError("condition not met in time")


def _starts(daemon: Pouchd, cid: str) -> int:
    return daemon.logs(cid).count(b"started\n")


def test_on_failure_with_a_limit(daemon: Pouchd) -> None:
    cid = daemon.run(["sh", "-c", "echo started; exit 3"], **_policy("on-failure", 2))
    _until(lambda: _starts(daemon, cid) == 3)
    time.sleep(1.5)
    assert _starts(daemon, cid) == 3
    doc = daemon.inspect(cid)
    assert (doc["State"]["Status"], doc["State"]["ExitCode"]) == ("exited", 3)
    assert doc["RestartCount"] == 2
    daemon.api("POST", f"/containers/{cid}/start")  # a user's start counts afresh
    _until(lambda: _starts(daemon, cid) == 6)
    _until(lambda: daemon.inspect(cid)["State"]["Status"] == "exited")
    assert daemon.inspect(cid)["RestartCount"] == 2
    daemon.api("DELETE", f"/containers/{cid}", force=1)


def test_on_failure_ignores_success_and_always_restarts(daemon: Pouchd) -> None:
    ok = daemon.run(["sh", "-c", "echo started"], **_policy("on-failure"))
    always = daemon.run(["sh", "-c", "echo started; sleep 0.2"], **_policy("always"))
    _until(lambda: _starts(daemon, always) >= 3)
    assert _starts(daemon, ok) == 1
    daemon.api("POST", f"/containers/{always}/stop", t=1)
    count = _starts(daemon, always)
    time.sleep(1)
    assert _starts(daemon, always) == count  # a user's stop sticks
    for cid in (ok, always):
        daemon.api("DELETE", f"/containers/{cid}", force=1)


def test_bad_policies_are_refused(daemon: Pouchd) -> None:
    status, body = daemon.status_of(
        "POST", "/containers/create", {"Image": "busybox", **_policy("sometimes")}
    )
    assert (status, body["message"]) == (400, "invalid restart policy 'sometimes'")
    status, body = daemon.status_of(
        "POST", "/containers/create", {"Image": "busybox", **_policy("always", 3)}
    )
    assert status == 400
    assert "maximum retry count can only be used with 'on-failure'" in body["message"]
    body = {"Image": "busybox", **_policy("always")}
    body["HostConfig"]["AutoRemove"] = True
    status, reply = daemon.status_of("POST", "/containers/create", body)
    assert status == 400
    assert reply["message"] == "can't create 'AutoRemove' container with restart policy"


def test_policies_across_a_daemon_restart(fresh_daemon: Any) -> None:
    d: Pouchd = fresh_daemon().start()
    d.load_busybox()
    always = d.run(["sleep", "300"], **_policy("always"))
    unless = d.run(["sleep", "300"], **_policy("unless-stopped"))
    plain = d.run(["sleep", "300"])
    stopped = d.run(["sleep", "300"], **_policy("unless-stopped"))
    d.api("POST", f"/containers/{stopped}/stop", t=0)
    pids = {cid: d.inspect(cid)["State"]["Pid"] for cid in (always, unless, plain)}
    d.stop()
    # While the daemon is away its containers die.
    for pid in pids.values():
        os.kill(pid, signal.SIGKILL)
    time.sleep(0.5)
    d.start()

    def status() -> dict[str, str]:
        return {cid: d.inspect(cid)["State"]["Status"] for cid in (*pids, stopped)}

    wanted = {always: "running", unless: "running", plain: "exited", stopped: "exited"}
    _until(lambda: status() == wanted)
    time.sleep(1)
    assert status() == wanted
    d.remove_all()
