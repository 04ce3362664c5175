"""The pouch command line against a real daemon."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.support.daemon import BUSYBOX_TAR, Pouchd

POUCH = str(Path(sys.executable).parent / "pouch")


def pouch(d: Pouchd, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "POUCH_HOST": d.host}
    return subprocess.run([POUCH, *args], capture_output=True, text=True, env=env,
                          timeout=60)  # fmt: skip


def ok(d: Pouchd, *args: str) -> str:
    done = pouch(d, *args)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_version_info_images_and_load(daemon: Pouchd) -> None:
    assert "API version:" in ok(daemon, "version") or "1.43" in ok(daemon, "version")
    assert "Containers:" in ok(daemon, "info")
    assert "Loaded image: busybox:latest" in ok(daemon, "load", "-i", str(BUSYBOX_TAR))
    table = ok(daemon, "images").splitlines()
    assert table[0].split() == ["REPOSITORY", "TAG", "IMAGE", "ID", "CREATED", "SIZE"]
    assert any(line.split()[:2] == ["busybox", "latest"] for line in table[1:])


def test_run_attached_prints_output_and_exits_with_its_code(daemon: Pouchd) -> None:
    done = pouch(
        daemon, "run", "--rm", "busybox", "sh", "-c", "echo hi; echo err >&2; exit 5"
    )  # noqa: E501
    assert done.returncode == 5
    assert done.stdout == "hi\n"
    assert done.stderr == "err\n"
    assert ok(daemon, "ps", "-a", "-q") == ""  # --rm removed it


def test_detached_lifecycle(daemon: Pouchd) -> None:
    cid = ok(daemon, "run", "-d", "--name", "cli1", "-e", "A=1", "-m", "32m",
             "busybox", "sh", "-c", "echo $A; sleep 300").strip()  # fmt: skip
    assert len(cid) == 64
    listing = ok(daemon, "ps").splitlines()
    assert listing[0].split()[:2] == ["CONTAINER", "ID"]
    assert any(line.startswith(cid[:12]) and line.endswith("cli1") for line in listing)
    assert ok(daemon, "ps", "-q") == cid[:12] + "\n"
    assert ok(daemon, "inspect", "-f", "{{.HostConfig.Memory}}", "cli1") == "33554432\n"
    doc = json.loads(ok(daemon, "inspect", "cli1"))
    assert doc[0]["Id"] == cid and doc[0]["State"]["Running"] is True
    assert ok(daemon, "logs", "cli1") == "1\n"
    assert ok(daemon, "stop", "-t", "1", "cli1") == "cli1\n"
    assert ok(daemon, "wait", "cli1") == "137\n"
    ok(daemon, "start", "cli1")
    ok(daemon, "restart", "-t", "0", "cli1")
    assert ok(daemon, "kill", "cli1") == "cli1\n"
    assert ok(daemon, "wait", "cli1") == "137\n"
    ok(daemon, "rm", "cli1")
    assert ok(daemon, "ps", "-a", "-q") == ""


def test_create_then_start_and_rm_force(daemon: Pouchd) -> None:
    cid = ok(daemon, "create", "--name", "cli2", "busybox", "sleep", "300").strip()
    assert json.loads(ok(daemon, "inspect", cid))[0]["State"]["Status"] == "created"
    ok(daemon, "start", "cli2")
    failed = pouch(daemon, "rm", "cli2")
    assert failed.returncode == 1
    assert failed.stderr.startswith("Error response from daemon: You cannot remove")
    assert len(failed.stderr.splitlines()) == 1
    assert ok(daemon, "rm", "-f", "cli2") == "cli2\n"


def test_errors_are_one_line_and_non_zero(daemon: Pouchd) -> None:
    missing = pouch(daemon, "inspect", "nosuch")
    assert missing.returncode == 1 and len(missing.stderr.splitlines()) == 1
    bad = pouch(daemon, "run", "--name", "bad name", "busybox", "true")
    assert bad.returncode == 125
    assert "Invalid container name" in bad.stderr
    away = subprocess.run([POUCH, "-H", "unix:///nonexistent.sock", "ps"],
                          capture_output=True, text=True)  # fmt: skip
    assert away.returncode == 1 and len(away.stderr.splitlines()) == 1


def test_a_command_that_cannot_run_exits_as_docker_does(daemon: Pouchd) -> None:
    """127 for a command not found, 126 for one that cannot be run, both for run
    and exec, with the runtime's words on stderr."""
    missing = pouch(daemon, "run", "--rm", "busybox", "no-such-command")
    assert missing.returncode == 127, missing.stderr
    assert 'exec: "no-such-command": executable file not found' in missing.stderr
    assert pouch(daemon, "run", "--rm", "busybox", "/etc").returncode == 126
    ok(daemon, "run", "-d", "--name", "cli-exec-codes", "busybox", "sleep", "300")
    for command, code in (("no-such-command", 126), ("/etc", 126)):
        done = pouch(daemon, "exec", "cli-exec-codes", command)
        assert done.returncode == code, done.stderr
        assert done.stderr.startswith("OCI runtime exec failed:"), done.stderr
    assert pouch(daemon, "exec", "cli-exec-codes", "sh", "-c", "exit 3").returncode == 3
    ok(daemon, "rm", "-f", "cli-exec-codes")
