"""Healthchecks: the monitor, State.Health, the ps status, events and filters."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

from tests.integration.test_docker_cli import Docker, docker  # noqa: F401
from tests.support.daemon import Pouchd

MS = 1_000_000


def _check(test: list[str], **settings: int) -> dict[str, Any]:
    return {"Healthcheck": {"Test": test, "Interval": 200 * MS, **settings}}


def _health(daemon: Pouchd, cid: str) -> dict[str, Any]:
    return dict(daemon.inspect(cid)["State"].get("Health") or {})


def _until_status(daemon: Pouchd, cid: str, status: str, timeout: float = 20) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        health = _health(daemon, cid)
        if health.get("Status") == status:
            return health
        time.sleep(0.1)
    raise AssertionError(f"{cid} not {status}: {_health(daemon, cid)}")


def _status_text(daemon: Pouchd, cid: str, **filters: list[str]) -> list[str]:
    query = {"all": 1, "filters": json.dumps({"id": [cid], **filters})}
    return [c["Status"] for c in daemon.api("GET", "/containers/json", **query)]


def _exec(daemon: Pouchd, cid: str, cmd: list[str]) -> None:
    made = daemon.api("POST", f"/containers/{cid}/exec", {"Cmd": cmd})
    daemon.api("POST", f"/exec/{made['Id']}/start", {"Detach": True})


def test_a_passing_check_makes_it_healthy(daemon: Pouchd) -> None:
    since = time.time()
    cid = daemon.run(["sleep", "60"], **_check(["CMD-SHELL", "echo ok"]))
    assert _status_text(daemon, cid)[0].endswith(" (health: starting)")
    assert _status_text(daemon, cid, health=["starting"])
    health = _until_status(daemon, cid, "healthy")
    assert health["FailingStreak"] == 0
    assert health["Log"][-1]["ExitCode"] == 0
    assert health["Log"][-1]["Output"] == "ok\n"
    assert health["Log"][-1]["Start"] <= health["Log"][-1]["End"]
    time.sleep(1.5)
    assert len(_health(daemon, cid)["Log"]) == 5  # the latest five only

    assert _status_text(daemon, cid)[0].endswith(" (healthy)")
    assert _status_text(daemon, cid, health=["healthy"])
    assert not _status_text(daemon, cid, health=["none"])
    query = {
        "since": f"{since:.3f}",
        "until": f"{time.time():.3f}",
        "filters": json.dumps({"container": [cid]}),
    }
    body = daemon.client.request("GET", "/events", query=query).read()
    actions = [json.loads(line)["Action"] for line in body.splitlines()]
    assert actions.count("health_status: healthy") == 1

    # A stop keeps the last health; the next start is starting again.
    daemon.api("POST", f"/containers/{cid}/stop", t=0)
    assert _health(daemon, cid)["Status"] == "healthy"
    daemon.api("POST", f"/containers/{cid}/start")
    assert _health(daemon, cid)["Status"] == "starting"
    _until_status(daemon, cid, "healthy")
    daemon.api("DELETE", f"/containers/{cid}", force=1)


def test_failures_make_it_unhealthy_and_a_success_heals_it(daemon: Pouchd) -> None:
    check = _check(["CMD-SHELL", "test -e /tmp/ok"], Retries=2)
    cid = daemon.run(["sleep", "60"], **check)
    health = _until_status(daemon, cid, "unhealthy")
    assert health["FailingStreak"] == 2
    assert health["Log"][-1]["ExitCode"] == 1
    time.sleep(0.5)
    assert _health(daemon, cid)["FailingStreak"] > 2
    assert _status_text(daemon, cid)[0].endswith(" (unhealthy)")
    assert _status_text(daemon, cid, health=["unhealthy"])

    _exec(daemon, cid, ["touch", "/tmp/ok"])
    health = _until_status(daemon, cid, "healthy")
    assert health["FailingStreak"] == 0
    daemon.api("DELETE", f"/containers/{cid}", force=1)


def test_a_check_that_overruns_is_a_failure(daemon: Pouchd) -> None:
    check = _check(["CMD", "sleep", "10"], Timeout=200 * MS, Retries=1)
    cid = daemon.run(["sleep", "60"], **check)
    health = _until_status(daemon, cid, "unhealthy")
    (result,) = health["Log"]
    assert result["ExitCode"] == -1
    assert result["Output"] == "Health check exceeded timeout (200ms)"
    daemon.api("DELETE", f"/containers/{cid}", force=1)


def test_failures_in_the_start_period_do_not_count(daemon: Pouchd) -> None:
    check = _check(["CMD-SHELL", "exit 1"], StartPeriod=2000 * MS, Retries=1)
    cid = daemon.run(["sleep", "60"], **check)
    time.sleep(1.2)
    health = _health(daemon, cid)
    assert (health["Status"], health["FailingStreak"]) == ("starting", 0)
    assert len(health["Log"]) >= 3
    _until_status(daemon, cid, "unhealthy")
    daemon.api("DELETE", f"/containers/{cid}", force=1)


def test_the_image_check_and_none(daemon: Pouchd, tmp_path: Path) -> None:
    from tests.support.images import image_archive

    image_check = {"Test": ["CMD-SHELL", "true"], "Interval": 200 * MS}
    archive = tmp_path / "health.tar"
    image_archive(archive, "health-image:1", [], {"Healthcheck": image_check})
    daemon.load(archive)
    try:
        checked = daemon.run(["sleep", "60"], Image="health-image:1")
        _until_status(daemon, checked, "healthy")
        none = daemon.run(["sleep", "60"], Image="health-image:1", **_check(["NONE"]))
        time.sleep(0.6)
        assert "Health" not in daemon.inspect(none)["State"]
        assert _status_text(daemon, none)[0].startswith("Up ")
        assert "(" not in _status_text(daemon, none)[0]
        assert _status_text(daemon, none, health=["none"])
        for cid in (checked, none):
            daemon.api("DELETE", f"/containers/{cid}", force=1)
    finally:
        daemon.api("DELETE", "/images/health-image:1")


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"Interval": 10}, "Interval in Healthcheck cannot be less than 1ms"),
        ({"Timeout": -MS}, "Timeout in Healthcheck cannot be less than 1ms"),
        ({"StartPeriod": 5}, "StartPeriod in Healthcheck cannot be less than 1ms"),
        ({"Retries": -1}, "Retries in Healthcheck cannot be negative"),
        ({"Test": ["CURL", "x"]}, "it must start with NONE, CMD or CMD-SHELL"),
        ({"Test": ["CMD"]}, "CMD needs a command"),
    ],
)
def test_bad_values_are_refused(
    daemon: Pouchd, settings: dict[str, Any], message: str
) -> None:
    healthcheck = {"Test": ["CMD", "true"], **settings}
    body = {"Image": "busybox", "Healthcheck": healthcheck}
    status, reply = daemon.status_of("POST", "/containers/create", body)
    assert status == 400
    assert message in reply["message"]


def test_the_docker_cli_sees_it_healthy(docker: Docker) -> None:  # noqa: F811
    cid = docker.ok(
        "run", "-d", "--name", "cli-health", "--health-cmd", "true",
        "--health-interval", "200ms", "busybox", "sleep", "60",
    ).strip()  # fmt: skip
    deadline = time.monotonic() + 20
    status = ""
    while time.monotonic() < deadline and status != "healthy":
        time.sleep(0.2)
        status = docker.ok("inspect", "-f", "{{.State.Health.Status}}", cid).strip()
    assert status == "healthy"
    assert "(healthy)" in docker.ok("ps", "--filter", "health=healthy")


def test_the_monitor_resumes_after_a_daemon_restart(fresh_daemon: Any) -> None:
    d: Pouchd = fresh_daemon().start()
    d.load_busybox()
    check = _check(["CMD-SHELL", "test -e /tmp/ok"], Retries=1)
    cid = d.run(["sleep", "300"], **check)
    _until_status(d, cid, "unhealthy")
    d.stop()
    d.start()
    assert _health(d, cid)["Status"] == "unhealthy"  # kept while re-adopted
    _exec(d, cid, ["touch", "/tmp/ok"])
    _until_status(d, cid, "healthy")
    d.remove_all()
