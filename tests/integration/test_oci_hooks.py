"""OCI hooks beyond prestart on a real daemon: hook files with conditions, every
stage, poststop exactly once per stop, and a hook's own environment."""

from __future__ import annotations

import json
import os
import signal
import textwrap
import time
from pathlib import Path

from tests.support.daemon import Pouchd

# A hook that appends the container id from its state (stdin) to a record file.
RECORD_SCRIPT = (
    '/bin/sed -n "s/.*\\"id\\":\\"\\([0-9a-f]*\\)\\".*/\\1/p" >> {record}; '
    "echo >> {record}"
)


def recorder(record: Path) -> list[str]:
    return ["sh", "-c", RECORD_SCRIPT.format(record=record)]


def ids_in(record: Path) -> list[str]:
    return record.read_text().split() if record.exists() else []


def test_a_hook_file_applies_to_matching_containers_only(
    fresh_daemon, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]  # noqa: E501
    record = tmp_path / "gpu.txt"
    d: Pouchd = fresh_daemon()
    d.hooks_dir.mkdir(parents=True)
    (d.hooks_dir / "50-gpu.json").write_text(json.dumps({
        "version": "1.0.0",
        "hook": {"path": "/bin/sh", "args": recorder(record)},
        "when": {"annotations": {"^com\\.example\\.gpu$": "^yes$"}},
        "stages": ["prestart"],
        "annotations": {"io.pouch.hook.priority": "5"},
    }))  # fmt: skip
    d.start()
    d.load_busybox()
    gpu = d.run(["sleep", "300"], Labels={"com.example.gpu": "yes"})
    plain = d.run(["sleep", "300"], Labels={"com.example.gpu": "no"})
    assert ids_in(record) == [gpu]
    # Priority 5 places it before the network hook.
    prestart = d.config_json(gpu)["hooks"]["prestart"]
    assert prestart[0]["path"] == "/bin/sh"
    assert prestart[1]["args"][1] == "libnetwork-setkey"
    assert len(d.config_json(plain)["hooks"]["prestart"]) == 1
    for cid in (gpu, plain):
        d.api("DELETE", f"/containers/{cid}", force=1)


STAGE_PLUGIN = """
    SCRIPT = {script!r}
    BASE = {base!r}
    ENV_RECORD = {env_record!r}
    # The environment the hook was started with (a shell adds PWD to its own).
    ENVIRON = "/usr/bin/tr '\\\\0' '\\\\n' < /proc/$$/environ > "

    def record(stage):
        script = SCRIPT.format(record=BASE + "." + stage)
        return {{"path": "/bin/sh", "args": ["sh", "-c", script], "stage": stage}}

    class ContainerPlugin:
        def pre_start(self, container):
            hooks = [
                record("poststop"),
                record("poststart"),
                record("createRuntime"),
                {{"path": "/bin/sh", "args": ["sh", "-c", ENVIRON + ENV_RECORD],
                  "env": ["A=1"]}},
                {{"path": "/bin/sh",
                  "args": ["sh", "-c", ENVIRON + ENV_RECORD + ".none"]}},
                ["/bin/sh", "sh", "-c", ENVIRON + ENV_RECORD + ".list"],
            ]
            return [0] * len(hooks), hooks
"""


def started_plugin_daemon(fresh_daemon, tmp_path: Path) -> tuple[Pouchd, Path]:  # type: ignore[no-untyped-def]  # noqa: E501
    base = tmp_path / "stage"
    source = STAGE_PLUGIN.format(
        script=RECORD_SCRIPT, base=str(base), env_record=str(tmp_path / "env")
    )
    plugin = tmp_path / "stages.py"
    plugin.write_text(textwrap.dedent(source))
    d: Pouchd = fresh_daemon(plugins=[str(plugin)]).start()
    d.load_busybox()
    return d, base


def wait_exited(d: Pouchd, cid: str) -> None:
    deadline = time.monotonic() + 20
    while d.inspect(cid)["State"]["Running"]:
        assert time.monotonic() < deadline
        time.sleep(0.05)


def test_hooks_of_every_stage_and_poststop_once_per_stop(
    fresh_daemon, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]  # noqa: E501
    d, base = started_plugin_daemon(fresh_daemon, tmp_path)
    poststop = Path(f"{base}.poststop")
    stopped = d.run(["sleep", "300"])
    hooks = d.config_json(stopped)["hooks"]
    # poststop hooks are run by the daemon at the final exit, not by runc.
    assert sorted(hooks) == ["createRuntime", "poststart", "prestart"]
    assert ids_in(Path(f"{base}.createRuntime")) == [stopped]
    assert ids_in(Path(f"{base}.poststart")) == [stopped]
    assert ids_in(poststop) == []

    d.api("POST", f"/containers/{stopped}/stop", t=1)
    killed = d.run(["sleep", "300"])
    d.api("POST", f"/containers/{killed}/kill")
    wait_exited(d, killed)
    removed = d.run(["sleep", "300"])
    d.api("DELETE", f"/containers/{removed}", force=1)
    exited = d.run(["true"])
    assert d.wait(exited) == 0
    wait_exited(d, exited)

    for cid in (stopped, killed, exited):
        d.api("DELETE", f"/containers/{cid}")
    assert sorted(ids_in(poststop)) == sorted([stopped, killed, removed, exited])


def test_poststop_does_not_run_on_a_restart_policy_restart(
    fresh_daemon, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]  # noqa: E501
    d, base = started_plugin_daemon(fresh_daemon, tmp_path)
    starts, poststop = Path(f"{base}.createRuntime"), Path(f"{base}.poststop")
    policy = {"Name": "on-failure", "MaximumRetryCount": 2}
    cid = d.run(["sh", "-c", "exit 3"], HostConfig={"RestartPolicy": policy})
    deadline = time.monotonic() + 30
    while len(ids_in(starts)) < 3 or d.inspect(cid)["State"]["Status"] != "exited":
        assert time.monotonic() < deadline, "the policy did not restart it twice"
        time.sleep(0.1)
    # The final exit's hooks run right after it is recorded.
    while not ids_in(poststop):
        assert time.monotonic() < deadline, "no poststop hook at the final exit"
        time.sleep(0.05)
    time.sleep(0.3)  # nothing more comes
    assert ids_in(starts) == [cid] * 3  # the first start and two restarts
    assert ids_in(poststop) == [cid]  # once, at the final exit
    d.api("DELETE", f"/containers/{cid}")
    assert ids_in(poststop) == [cid]


def test_poststop_owed_for_an_exit_while_pouchd_was_down(
    fresh_daemon, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]  # noqa: E501
    d, base = started_plugin_daemon(fresh_daemon, tmp_path)
    starts, poststop = Path(f"{base}.createRuntime"), Path(f"{base}.poststop")
    once = d.run(["sleep", "300"])
    always = d.run(["sleep", "300"], HostConfig={"RestartPolicy": {"Name": "always"}})
    pids = [d.inspect(cid)["State"]["Pid"] for cid in (once, always)]
    assert d.stop() == 0
    for pid in pids:  # both die while nobody watches
        os.kill(pid, signal.SIGKILL)
    d.start()
    # The first ran its poststop hooks at the daemon's start; the second is started
    # again by its policy, so its hooks are not owed yet.
    assert ids_in(poststop) == [once]
    assert d.inspect(once)["State"]["Status"] == "exited"
    deadline = time.monotonic() + 30
    while ids_in(starts).count(always) < 2:
        assert time.monotonic() < deadline, "the always policy did not start it"
        time.sleep(0.1)
    d.api("DELETE", f"/containers/{always}", force=1)
    d.api("DELETE", f"/containers/{once}")
    assert sorted(ids_in(poststop)) == sorted([once, always])


def test_a_hook_sees_exactly_the_environment_it_was_given(
    fresh_daemon, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]  # noqa: E501
    d, _ = started_plugin_daemon(fresh_daemon, tmp_path)
    cid = d.run(["sleep", "300"])
    assert (tmp_path / "env").read_text().split() == ["A=1"]
    assert (tmp_path / "env.none").read_text() == ""  # no env given: an empty one
    # A list-form hook has no env key (the first plugin contract's shape), so runc
    # runs it in its own environment: never the daemon's, which holds this test's.
    assert "PYTEST_CURRENT_TEST" in os.environ
    listed = (tmp_path / "env.list").read_text().split()
    names = {line.split("=", 1)[0] for line in listed}
    # PATH from the daemon; the rest containerd and its shim set for their children.
    assert names <= {"PATH", "LD_LIBRARY_PATH", "TTRPC_ADDRESS", "GOMAXPROCS"}, listed
    d.api("DELETE", f"/containers/{cid}", force=1)
