"""pause, unpause, rename, diff, export, prune, system df and events, through the
API and the ``pouch`` command."""

from __future__ import annotations

import io
import json
import subprocess
import tarfile
import time
from pathlib import Path

from tests.support.daemon import BIN, Pouchd


def _pouch(daemon: Pouchd, *args: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [str(BIN / "pouch"), "-H", daemon.host, *args], capture_output=True, timeout=60
    )


def test_pause_unpause_rename(daemon: Pouchd) -> None:
    cid = daemon.run(["sleep", "300"], name="ops-pause")
    assert _pouch(daemon, "pause", "ops-pause").returncode == 0
    assert daemon.inspect(cid)["State"]["Status"] == "paused"
    again = _pouch(daemon, "pause", "ops-pause")
    assert again.returncode == 1
    assert f"Container {cid} is already paused" in again.stderr.decode()
    exec_ = daemon.status_of("POST", f"/containers/{cid}/exec", {"Cmd": ["true"]})
    assert exec_[0] == 409
    assert _pouch(daemon, "unpause", "ops-pause").returncode == 0
    assert daemon.inspect(cid)["State"]["Status"] == "running"

    assert _pouch(daemon, "rename", "ops-pause", "ops-renamed").returncode == 0
    assert daemon.inspect("ops-renamed")["Id"] == cid
    other = daemon.create(["true"], name="ops-other")
    taken = _pouch(daemon, "rename", "ops-renamed", "ops-other")
    assert taken.returncode == 1
    assert 'The container name "/ops-other" is already in use' in taken.stderr.decode()
    for c in (cid, other):
        daemon.api("DELETE", f"/containers/{c}", force=1)


def test_exec_top_stats_commands(daemon: Pouchd) -> None:
    cid = daemon.run(["sleep", "300"], name="ops-exec")
    done = _pouch(
        daemon, "exec", "-e", "X=5", "ops-exec", "sh", "-c", "echo $X; exit 3"
    )
    assert (done.returncode, done.stdout) == (3, b"5\n")
    top = _pouch(daemon, "top", "ops-exec").stdout.decode().splitlines()
    assert top[1].endswith("sleep 300")
    stats = _pouch(daemon, "stats", "--no-stream", "ops-exec").stdout.decode()
    assert "ops-exec" in stats
    doc = daemon.api("GET", f"/containers/{cid}/stats", stream=0)
    assert doc["pids_stats"]["current"] == 1
    assert doc["cpu_stats"]["cpu_usage"]["total_usage"] > 0
    assert doc["precpu_stats"]["cpu_usage"]["total_usage"] > 0
    daemon.api("DELETE", f"/containers/{cid}", force=1)


def test_changes_export_prune(daemon: Pouchd) -> None:
    cid = daemon.run(["sh", "-c", "echo x > /new; rm /bin/ls"], name="ops-diff")
    daemon.wait(cid)
    changes = {
        c["Path"]: c["Kind"] for c in daemon.api("GET", f"/containers/{cid}/changes")
    }  # noqa: E501
    assert changes == {"/bin": 0, "/bin/ls": 2, "/new": 1}
    stream = daemon.client.request("GET", f"/containers/{cid}/export")
    with tarfile.open(fileobj=io.BytesIO(stream.read())) as tar:
        names = set(tar.getnames())
    assert "./new" in names and "./bin/ls" not in names and "./bin/sh" in names
    running = daemon.run(["sleep", "300"], name="ops-running")
    pruned = daemon.api("POST", "/containers/prune")
    assert cid in pruned["ContainersDeleted"]
    assert running not in pruned["ContainersDeleted"]
    df = daemon.api("GET", "/system/df")
    assert [c["Id"] for c in df["Containers"]] == [running]
    assert df["Images"] and df["LayersSize"] > 0
    daemon.api("DELETE", f"/containers/{running}", force=1)


def test_events_since_until_and_filters(daemon: Pouchd) -> None:
    since = time.time()
    cid = daemon.run(["true"], name="ops-events")
    daemon.wait(cid)
    daemon.api("DELETE", f"/containers/{cid}")
    until = time.time() + 0.1
    out = _pouch(daemon, "events", "--since", f"{since:.3f}", "--until", f"{until:.3f}",
                 "-f", "container=ops-events").stdout.decode()  # fmt: skip
    actions = [line.split()[2] for line in out.splitlines()]
    assert actions == ["create", "start", "die", "destroy"]
    bad = daemon.status_of("GET", "/events", since="yesterday")
    assert bad == (
        400,
        {"message": "invalid since='yesterday': expected seconds since the epoch"},
    )  # noqa: E501


def test_sizes_of_the_writable_layer(daemon: Pouchd) -> None:
    """``?size=1`` and system df count what the container wrote (the snapshotter's
    usage of its upper directory), and add the image's size for SizeRootFs."""
    image_size = daemon.api("GET", "/images/busybox/json")["Size"]
    label = {"Labels": {"ops-sizes": "1"}}
    wrote = daemon.run(
        ["dd", "if=/dev/zero", "of=/blob", "bs=1024", "count=2048"], **label
    )
    daemon.wait(wrote)
    fresh = daemon.create(["true"], **label)
    listed = {c["Id"]: c for c in daemon.api("GET", "/containers/json", all=1, size=1)}
    assert 2 * 1024 * 1024 <= listed[wrote]["SizeRw"] < 3 * 1024 * 1024
    assert listed[wrote]["SizeRootFs"] == listed[wrote]["SizeRw"] + image_size
    assert (listed[fresh]["SizeRw"], listed[fresh]["SizeRootFs"]) == (0, image_size)
    plain = daemon.api("GET", "/containers/json", all=1)
    assert all("SizeRw" not in c for c in plain)
    df = {c["Id"]: c for c in daemon.api("GET", "/system/df")["Containers"]}
    assert df[wrote]["SizeRw"] == listed[wrote]["SizeRw"]
    # A prune reclaims what they wrote.
    filters = json.dumps({"label": ["ops-sizes=1"]})
    pruned = daemon.api("POST", "/containers/prune", filters=filters)
    assert sorted(pruned["ContainersDeleted"]) == sorted([wrote, fresh])
    assert pruned["SpaceReclaimed"] == listed[wrote]["SizeRw"]


def test_stop_and_restart_events_follow_dockerd(daemon: Pouchd) -> None:
    since = time.time()
    cid = daemon.run(["sleep", "300"], name="ops-events-stop")
    daemon.api("POST", f"/containers/{cid}/restart", t=1)
    daemon.api("DELETE", f"/containers/{cid}", force=1)
    seen = _events(daemon, since, container=["ops-events-stop"])
    actions = [(e["Action"], e["Actor"]["Attributes"].get("signal")) for e in seen]
    # sleep is the container's pid 1, which the kernel spares SIGTERM (15) unless
    # it handles it: after the timeout the stop sends SIGKILL (9).
    assert actions[:8] == [
        ("create", None), ("start", None), ("kill", "15"), ("kill", "9"),
        ("die", None), ("stop", None), ("start", None), ("restart", None)]  # fmt: skip
    assert actions[-1] == ("destroy", None)


def test_exec_events(daemon: Pouchd) -> None:
    since = time.time()
    cid = daemon.run(["sleep", "300"], name="ops-events-exec")
    assert _pouch(daemon, "exec", cid, "sh", "-c", "exit 3").returncode == 3
    daemon.api("DELETE", f"/containers/{cid}", force=1)
    seen = _events(daemon, since, container=[cid], event=["exec_create",
                   "exec_start", "exec_die"])  # fmt: skip
    command = "sh -c exit 3"
    assert [e["Action"] for e in seen] == [
        f"exec_create: {command}", f"exec_start: {command}", "exec_die"]  # fmt: skip
    assert len({e["Actor"]["Attributes"]["execID"] for e in seen}) == 1
    assert seen[-1]["Actor"]["Attributes"]["exitCode"] == "3"


def _events(daemon: Pouchd, since: float, **filters: list[str]) -> list[dict]:  # type: ignore[type-arg]
    query = {"since": f"{since:.3f}", "until": f"{time.time() + 0.1:.3f}",
             "filters": json.dumps(filters)}  # fmt: skip
    body = daemon.client.request("GET", "/events", query=query).read()
    return [json.loads(line) for line in body.splitlines() if line.strip()]


def test_image_and_network_events(daemon: Pouchd) -> None:
    since = time.time()
    image_id = daemon.api("GET", "/images/busybox/json")["Id"]
    daemon.api("POST", "/images/busybox/tag", repo="ops-events-img", tag="v1")
    daemon.api("DELETE", "/images/ops-events-img:v1")
    images = _events(daemon, since, type=["image"])
    assert [(e["Action"], e["Actor"]["ID"], e["Actor"]["Attributes"]["name"])
            for e in images] == [("tag", image_id, "ops-events-img:v1"),
                                 ("untag", image_id, "ops-events-img:v1")]  # fmt: skip
    assert images[0]["status"] == "tag" and images[0]["id"] == image_id

    net = daemon.api("POST", "/networks/create", {"Name": "ops-events-net"})["Id"]
    cid = daemon.run(["true"], HostConfig={"NetworkMode": "ops-events-net"})
    daemon.wait(cid)
    daemon.api("DELETE", f"/containers/{cid}")
    daemon.api("DELETE", "/networks/ops-events-net")
    networks = _events(daemon, since, network=["ops-events-net"])
    assert [e["Action"] for e in networks] == [
        "create", "connect", "disconnect", "destroy"]  # fmt: skip
    assert all(e["Actor"]["ID"] == net and e["Type"] == "network" for e in networks)
    assert networks[1]["Actor"]["Attributes"] == {
        "name": "ops-events-net", "type": "bridge", "container": cid}  # fmt: skip


def test_update_running_container(daemon: Pouchd) -> None:
    cid = daemon.run(["sleep", "300"], HostConfig={"Memory": 64 * 1024 * 1024})
    body = {"Memory": 128 * 1024 * 1024, "MemorySwap": 256 * 1024 * 1024,
            "NanoCpus": 500_000_000, "PidsLimit": 20}  # fmt: skip
    assert daemon.api("POST", f"/containers/{cid}/update", body) == {"Warnings": []}
    limits = _pouch(daemon, "exec", cid, "cat",
                    "/sys/fs/cgroup/memory/memory.limit_in_bytes",
                    "/sys/fs/cgroup/cpu/cpu.cfs_quota_us",
                    "/sys/fs/cgroup/pids/pids.max").stdout.split()  # fmt: skip
    assert limits == [b"134217728", b"50000", b"20"]
    assert daemon.inspect(cid)["HostConfig"]["Memory"] == 128 * 1024 * 1024
    status, reply = daemon.status_of(
        "POST", f"/containers/{cid}/update", {"KernelMemory": 1}
    )
    assert (status, reply["message"]) == (
        400, "cannot update KernelMemory: not an updatable field"
    )  # fmt: skip
    daemon.api("DELETE", f"/containers/{cid}", force=1)


def test_image_prune_spares_tagged_images(daemon: Pouchd) -> None:
    cid = daemon.run(["sleep", "300"])
    assert daemon.api("POST", "/images/prune") == {
        "ImagesDeleted": None, "SpaceReclaimed": 0
    }  # fmt: skip
    status, reply = daemon.status_of(
        "POST", "/images/prune", filters='{"dangling":["x"]}'
    )  # noqa: E501
    assert (status, reply["message"]) == (400, "invalid filter 'dangling=x'")
    daemon.api("DELETE", f"/containers/{cid}", force=1)


def test_pouch_cp_and_update(daemon: Pouchd, tmp_path: Path) -> None:
    cid = daemon.run(["sleep", "300"], name="ops-cp")
    source = tmp_path / "f.txt"
    source.write_text("data\n")
    assert _pouch(daemon, "cp", str(source), "ops-cp:/tmp/").returncode == 0
    assert _pouch(daemon, "cp", str(source), "ops-cp:/tmp/renamed.txt").returncode == 0
    both = _pouch(daemon, "exec", "ops-cp", "cat", "/tmp/f.txt", "/tmp/renamed.txt")
    assert both.stdout == b"data\ndata\n"
    assert (
        _pouch(daemon, "cp", "ops-cp:/etc/hostname", str(tmp_path / "hn")).returncode
        == 0
    )  # noqa: E501
    assert (tmp_path / "hn").read_text().strip() == cid[:12]
    updated = _pouch(daemon, "update", "-m", "128m", "ops-cp")
    assert (updated.returncode, updated.stdout) == (0, b"ops-cp\n")
    assert daemon.inspect(cid)["HostConfig"]["Memory"] == 128 * 1024 * 1024
    daemon.api("DELETE", f"/containers/{cid}", force=1)


def test_pouch_exec_interactive_and_attach(daemon: Pouchd) -> None:
    cid = daemon.run(
        ["sh", "-c", "sleep 1; echo attached-out; sleep 300"], name="ops-it"
    )
    piped = subprocess.run(
        [str(BIN / "pouch"), "-H", daemon.host, "exec", "-i", "ops-it", "cat"],
        input=b"piped\n", capture_output=True, timeout=30,
    )  # fmt: skip
    assert (piped.returncode, piped.stdout) == (0, b"piped\n")

    import os
    import pty

    pid, fd = pty.fork()
    if pid == 0:  # pragma: no cover - the child
        argv = [str(BIN / "pouch"), "-H", daemon.host, "exec", "-it", "ops-it", "sh"]
        os.execv(argv[0], argv)
    time.sleep(1.5)
    os.write(fd, b"tty; exit 5\r")
    out = b""
    while True:
        try:
            data = os.read(fd, 4096)
        except OSError:
            break
        if not data:
            break
        out += data
    _, status = os.waitpid(pid, 0)
    os.close(fd)
    assert os.waitstatus_to_exitcode(status) == 5
    assert b"/dev/pts/" in out

    attach = subprocess.Popen(
        [str(BIN / "pouch"), "-H", daemon.host, "attach", "--no-stdin", "ops-it"],
        stdout=subprocess.PIPE,
    )
    time.sleep(0.5)
    daemon.api("POST", f"/containers/{cid}/kill")
    attach.communicate(timeout=30)
    assert attach.returncode == 137
    stopped = _pouch(daemon, "attach", "ops-it")
    assert stopped.returncode == 1
    assert b"You cannot attach to a stopped container" in stopped.stderr
    daemon.api("DELETE", f"/containers/{cid}", force=1)
