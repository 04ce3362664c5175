"""Containers through their lifecycle on a real pouchd, containerd and runc."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import pytest

from tests.support.daemon import Pouchd


def test_run_logs_and_exit_code(daemon: Pouchd) -> None:
    cid = daemon.run(["sh", "-c", "echo out; echo err >&2; exit 3"])
    assert daemon.wait(cid) == 3
    assert daemon.logs(cid) in (b"out\nerr\n", b"err\nout\n")
    state = daemon.inspect(cid)["State"]
    assert state["Status"] == "exited" and state["ExitCode"] == 3
    daemon.api("DELETE", f"/containers/{cid}")


def test_logs_keep_streams_apart(daemon: Pouchd) -> None:
    from pouch.client.streams import demux

    cid = daemon.run(["sh", "-c", "echo out; echo err >&2"])
    daemon.wait(cid)
    stream = daemon.client.request(
        "GET", f"/containers/{cid}/logs", {"stdout": 1, "stderr": 1}
    )
    frames = sorted(demux(stream.chunks()))
    assert frames == [(1, b"out\n"), (2, b"err\n")]
    daemon.api("DELETE", f"/containers/{cid}")


def test_logs_with_timestamps_have_one_stamp_per_line(daemon: Pouchd) -> None:
    import re

    from pouch.client.streams import demux

    cid = daemon.run(["sh", "-c", "echo one; echo two"])
    daemon.wait(cid)
    stream = daemon.client.request(
        "GET", f"/containers/{cid}/logs", {"stdout": 1, "timestamps": 1}
    )
    lines = b"".join(data for _, data in demux(stream.chunks())).decode().splitlines()
    stamp = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z"
    assert [re.fullmatch(stamp + r" (\w+)", line)[1] for line in lines] == [
        "one",
        "two",
    ]  # type: ignore[index]  # noqa: E501
    daemon.api("DELETE", f"/containers/{cid}")


def test_stop_within_timeout_kills_a_shell_that_ignores_sigterm(daemon: Pouchd) -> None:
    cid = daemon.run(["sleep", "300"])  # as pid 1, sleep ignores SIGTERM
    assert daemon.inspect(cid)["State"]["Running"]
    started = time.monotonic()
    daemon.api("POST", f"/containers/{cid}/stop", t=1)
    elapsed = time.monotonic() - started
    state = daemon.inspect(cid)["State"]
    assert state["Status"] == "exited"
    assert state["ExitCode"] == 137  # SIGKILL after the timeout
    assert 0.9 < elapsed < 10
    daemon.api("DELETE", f"/containers/{cid}")


def test_stop_of_a_process_that_honours_sigterm(daemon: Pouchd) -> None:
    script = "trap 'exit 7' TERM; echo trapped; while true; do sleep 0.1; done"
    cid = daemon.run(["sh", "-c", script])
    deadline = time.monotonic() + 20
    while b"trapped" not in daemon.logs(cid):  # the trap is set: SIGTERM is handled
        assert time.monotonic() < deadline
        time.sleep(0.05)
    daemon.api("POST", f"/containers/{cid}/stop", t=10)
    assert daemon.inspect(cid)["State"]["ExitCode"] == 7
    daemon.api("DELETE", f"/containers/{cid}")


def test_kill_with_a_signal(daemon: Pouchd) -> None:
    cid = daemon.run(["sleep", "300"])
    daemon.api("POST", f"/containers/{cid}/kill", signal="SIGKILL")
    # A second kill right away finds it exiting or gone: never a server error.
    again = daemon.status_of("POST", f"/containers/{cid}/kill")
    assert again[0] in (204, 409), again
    assert daemon.wait(cid) == 137
    assert daemon.status_of("POST", f"/containers/{cid}/kill") == (
        409,
        {"message": f"Container {cid} is not running"},
    )
    daemon.api("DELETE", f"/containers/{cid}")


def test_rm_force_of_a_running_container_leaves_nothing(daemon: Pouchd) -> None:
    cid = daemon.run(["sleep", "300"])
    status, body = daemon.status_of("DELETE", f"/containers/{cid}")
    assert status == 409
    assert (
        "Stop the container before attempting removal or force remove"
        in body["message"]
    )  # noqa: E501
    daemon.api("DELETE", f"/containers/{cid}", force=1)
    assert daemon.status_of("GET", f"/containers/{cid}/json")[0] == 404
    assert not (daemon.home / "containers" / cid).exists()
    with open("/proc/mounts") as mounts:
        assert cid not in mounts.read()


def test_restart_and_list(daemon: Pouchd) -> None:
    cid = daemon.run(["sleep", "300"], name="restart-me")
    first_pid = daemon.inspect(cid)["State"]["Pid"]
    daemon.api("POST", f"/containers/{cid}/restart", t=0)
    second = daemon.inspect(cid)["State"]
    assert second["Running"] and second["Pid"] != first_pid
    listed = daemon.api("GET", "/containers/json")
    assert [c["Names"] for c in listed if c["Id"] == cid] == [["/restart-me"]]
    daemon.api("POST", f"/containers/{cid}/kill")
    daemon.wait(cid)
    assert cid not in [c["Id"] for c in daemon.api("GET", "/containers/json")]
    assert cid in [c["Id"] for c in daemon.api("GET", "/containers/json", all=1)]
    daemon.api("DELETE", f"/containers/{cid}")


def test_auto_remove(daemon: Pouchd) -> None:
    cid = daemon.run(["true"], HostConfig={"AutoRemove": True})
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if daemon.status_of("GET", f"/containers/{cid}/json")[0] == 404:
            return
        time.sleep(0.1)
    pytest.fail("auto-remove container still there")


def test_memory_limit_reaches_the_cgroup(daemon: Pouchd) -> None:
    cid = daemon.run(["sleep", "300"], HostConfig={"Memory": 64 * 1024 * 1024})
    assert daemon.inspect(cid)["HostConfig"]["Memory"] == 64 * 1024 * 1024
    assert cgroup_memory_limit(cid) == 64 * 1024 * 1024
    daemon.api("DELETE", f"/containers/{cid}", force=1)


def test_env_workdir_hostname_and_binds(daemon: Pouchd, tmp_path: Path) -> None:
    (tmp_path / "data").write_text("from host\n")
    cid = daemon.run(
        ["sh", "-c", "echo $FOO; pwd; hostname; cat /mnt/data; echo x > /mnt/new"],
        Env=["FOO=bar"],
        WorkingDir="/tmp",
        Hostname="box1",
        HostConfig={"Binds": [f"{tmp_path}:/mnt"]},
    )
    assert daemon.wait(cid) == 0
    assert daemon.logs(cid) == b"bar\n/tmp\nbox1\nfrom host\n"
    assert (tmp_path / "new").read_text() == "x\n"
    daemon.api("DELETE", f"/containers/{cid}")


def test_read_only_rootfs(daemon: Pouchd) -> None:
    cid = daemon.run(["touch", "/x"], HostConfig={"ReadonlyRootfs": True})
    assert daemon.wait(cid) != 0
    assert b"Read-only file system" in daemon.logs(cid)
    daemon.api("DELETE", f"/containers/{cid}")


def test_tty_logs_are_raw(daemon: Pouchd) -> None:
    cid = daemon.run(["echo", "hello"], Tty=True)
    daemon.wait(cid)
    stream = daemon.client.request("GET", f"/containers/{cid}/logs", {"stdout": 1})
    assert stream.read() == b"hello\r\n"
    daemon.api("DELETE", f"/containers/{cid}")


def test_wait_next_exit_returns_at_exit(daemon: Pouchd) -> None:
    cid = daemon.create(["sh", "-c", "sleep 0.5; exit 4"])
    pending = daemon.client.send_only(
        "POST", f"/containers/{cid}/wait", {"condition": "next-exit"}
    )
    daemon.api("POST", f"/containers/{cid}/start")
    assert pending.result() == {"StatusCode": 4, "Error": None}
    daemon.api("DELETE", f"/containers/{cid}")


def test_a_running_container_survives_a_restart_of_pouchd(fresh_daemon) -> None:  # type: ignore[no-untyped-def]
    d: Pouchd = fresh_daemon().start()
    d.load_busybox()
    cid = d.run(["sleep", "300"], name="survivor")
    pid = d.inspect(cid)["State"]["Pid"]
    assert d.stop() == 0
    assert Path(f"/proc/{pid}").exists(), "the container died with pouchd"
    d.start()
    assert cid in [c["Id"] for c in d.api("GET", "/containers/json")]
    state = d.inspect(cid)["State"]
    assert state["Running"] and state["Pid"] == pid
    d.api("POST", f"/containers/{cid}/stop", t=1)
    assert d.inspect(cid)["State"]["Status"] == "exited"
    assert not Path(f"/proc/{pid}").exists()
    d.api("DELETE", f"/containers/{cid}")


def cgroup_memory_limit(cid: str) -> int:
    for base in ("/sys/fs/cgroup/memory/pouch", "/sys/fs/cgroup/pouch"):
        for name in ("memory.limit_in_bytes", "memory.max"):
            path = Path(base) / cid / name
            if path.exists():
                return int(path.read_text())
    raise AssertionError(f"no memory cgroup for {cid}")


def test_a_pouchd_killed_with_sigkill_takes_over_again(fresh_daemon) -> None:  # type: ignore[no-untyped-def]  # noqa: E501
    d: Pouchd = fresh_daemon().start()
    d.load_busybox()
    cid = d.run(["sleep", "300"])
    pid = d.inspect(cid)["State"]["Pid"]
    left = int((d.home / "containerd" / "containerd.pid").read_text())
    assert d.proc is not None
    d.proc.kill()
    d.proc.wait()
    d.proc = None
    assert Path(f"/proc/{left}").exists(), "containerd died with pouchd"

    d.start()
    config = str(d.home / "containerd" / "config.toml")
    running = subprocess.run(["pgrep", "-f", config], capture_output=True, text=True)
    assert len(running.stdout.split()) == 1, "two containerds on one root"
    assert str(left) not in running.stdout.split()
    state = d.inspect(cid)["State"]
    assert state["Running"] and state["Pid"] == pid
    d.api("POST", f"/containers/{cid}/stop", t=1)
    d.api("DELETE", f"/containers/{cid}")


def test_rm_force_racing_a_start_leaves_no_task(daemon: Pouchd) -> None:
    """A remove that comes while a start is under way waits for it and kills what
    it started: no task outlives its container record."""
    import threading

    sock = daemon.home / "containerd" / "containerd.sock"
    made = []
    for _ in range(8):
        cid = daemon.create(["sleep", "777"])
        made.append(cid)
        results: dict[str, int] = {}

        def start(cid: str = cid, results: dict[str, int] = results) -> None:
            results["start"] = daemon.status_of("POST", f"/containers/{cid}/start")[0]

        starter = threading.Thread(target=start)
        starter.start()
        time.sleep(0.02)
        results["rm"] = daemon.status_of("DELETE", f"/containers/{cid}", force=1)[0]
        starter.join(30)
        assert results["rm"] == 204, results
        assert daemon.status_of("GET", f"/containers/{cid}/json")[0] == 404
    tasks = subprocess.run(
        ["ctr", "-a", str(sock), "-n", "default", "tasks", "ls", "-q"],
        capture_output=True, text=True, check=True,
    ).stdout.split()  # fmt: skip
    containers = subprocess.run(
        ["ctr", "-a", str(sock), "-n", "default", "containers", "ls", "-q"],
        capture_output=True, text=True, check=True,
    ).stdout.split()  # fmt: skip
    assert not set(made) & set(tasks), "a task outlived its container"
    assert not set(made) & set(containers)


def test_overlapping_restarts_each_answer_204(daemon: Pouchd) -> None:
    from concurrent.futures import ThreadPoolExecutor

    cid = daemon.run(["sleep", "300"])
    with ThreadPoolExecutor(4) as pool:
        statuses = list(pool.map(
            lambda _: daemon.status_of("POST", f"/containers/{cid}/restart", t=0)[0],
            range(4),
        ))  # fmt: skip
    assert statuses == [204] * 4
    assert daemon.inspect(cid)["State"]["Running"] is True
    daemon.api("DELETE", f"/containers/{cid}", force=1)
