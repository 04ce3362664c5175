"""The five plugin points on a real daemon: results, ordering and failures."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import textwrap
from pathlib import Path

import pytest

from tests.conftest import leftovers
from tests.support.daemon import ROOT, Pouchd

EXAMPLE = str(ROOT / "examples" / "hook_plugin.py")


def write(path: Path, source: str) -> str:
    path.write_text(textwrap.dedent(source))
    return str(path)


def ctr(d: Pouchd, *args: str) -> str:
    sock = d.home / "containerd" / "containerd.sock"
    cmd = ["ctr", "-a", str(sock), "-n", "default", *args]
    return subprocess.run(cmd, capture_output=True, text=True, check=True).stdout


def test_example_plugin_end_to_end(fresh_daemon) -> None:  # type: ignore[no-untyped-def]
    marker = Path("/tmp/pre_start_hook")
    marker.unlink(missing_ok=True)
    d: Pouchd = fresh_daemon(plugins=[EXAMPLE]).start()
    d.load_busybox()
    assert "pre-start hook in daemon is called" in d.log()
    info = d.api("GET", "/info")
    assert info["PouchPlugins"] == [{"Name": EXAMPLE, "Points": [
        "pre_start_hook", "pre_stop_hook", "pre_create", "pre_start",
        "pre_create_endpoint"]}]  # fmt: skip

    cid = d.run(["sleep", "300"])
    assert "pre create method called" in d.log()
    assert "pre create endpoint" in d.log()
    prestart = d.config_json(cid)["hooks"]["prestart"]
    assert prestart[0]["args"][:3] == ["pouchd", "libnetwork-setkey", cid]
    assert prestart[0]["path"].endswith("/pouchd")
    assert prestart[1] == {"path": "/usr/bin/touch",
                           "args": ["touch", "/tmp/pre_start_hook"]}  # fmt: skip
    assert len(prestart) == 2
    assert marker.exists()

    d.api("DELETE", f"/containers/{cid}", force=1)
    assert d.stop() == 0
    assert "pre-stop hook in daemon is called" in d.log()


ORDER_PLUGIN = """
    RECORD = {record!r}

    def hook(tag):
        # The hook sees the OCI state on stdin; it records whether the container's
        # network namespace has eth0 yet, i.e. whether the network hook ran before it.
        script = (
            "pid=$(/bin/grep -o 'pid.:[0-9]*' | /usr/bin/cut -d: -f2); "
            'if /bin/grep -q eth0: /proc/$pid/net/dev; then n=net; else n=nonet; fi; '
            'echo "$0:$n" >> ' + RECORD
        )
        return ["/bin/sh", "sh", "-c", script, tag]

    class ContainerPlugin:
        def pre_start(self, container):
            return [-2, 5, 0, 1, -2], [hook("a"), hook("b"), hook("c"), hook("d"),
                                        hook("e")]
"""


def test_hooks_run_in_priority_order_around_the_network(
    fresh_daemon, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]  # noqa: E501
    record = tmp_path / "order.txt"
    plugin = write(tmp_path / "order.py", ORDER_PLUGIN.format(record=str(record)))
    d: Pouchd = fresh_daemon(plugins=[plugin]).start()
    d.load_busybox()
    cid = d.run(["sleep", "300"])
    ran = record.read_text().split()
    # 5 and 1 run before the network hook, 0 after it, then -2 and -2 in order.
    assert ran == ["b:nonet", "d:nonet", "c:net", "a:net", "e:net"]
    d.api("DELETE", f"/containers/{cid}", force=1)


LEGACY_PLUGIN = """
    import json

    class ContainerPlugin:
        def pre_create(self, body):
            request = json.load(body)
            for entry in request.get("Env") or []:
                name, _, value = entry.partition("=")
                if name == "LEGACY_MEMORY":
                    assert value.endswith("m")
                    host = request.setdefault("HostConfig", {})
                    host["Memory"] = int(value[:-1]) * 1024 * 1024
            return json.dumps(request).encode()
"""


def test_pre_create_turns_a_legacy_variable_into_a_limit(
    fresh_daemon, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]  # noqa: E501
    from tests.integration.test_lifecycle import cgroup_memory_limit

    plugin = write(tmp_path / "legacy.py", LEGACY_PLUGIN)
    d: Pouchd = fresh_daemon(plugins=[plugin]).start()
    d.load_busybox()
    cid = d.run(["sleep", "300"], Env=["LEGACY_MEMORY=64m"])
    assert d.inspect(cid)["HostConfig"]["Memory"] == 64 * 1024 * 1024
    assert cgroup_memory_limit(cid) == 64 * 1024 * 1024
    d.api("DELETE", f"/containers/{cid}", force=1)


FAULTY_PLUGIN = """
    import json
    from pathlib import Path

    FAULTS = Path({faults!r})

    def fail_at(point):
        faults = json.loads(FAULTS.read_text()) if FAULTS.exists() else []
        if point in faults:
            raise RuntimeError("injected fault at " + point)

    class DaemonPlugin:
        def pre_start_hook(self):
            fail_at("pre_start_hook")

        def pre_stop_hook(self):
            fail_at("pre_stop_hook")

    class ContainerPlugin:
        def pre_create(self, body):
            fail_at("pre_create")
            return body

        def pre_start(self, container):
            fail_at("pre_start")
            return [], []

        def pre_create_endpoint(self, container_id, env):
            fail_at("pre_create_endpoint")
            return 10, True, {{"com.docker.network.endpoint.macaddress":
                               "02:42:ac:11:00:99", "team": "blue"}}
"""


@pytest.fixture
def faulty(fresh_daemon, tmp_path: Path):  # type: ignore[no-untyped-def]
    faults = tmp_path / "faults.json"
    plugin = write(tmp_path / "faulty.py", FAULTY_PLUGIN.format(faults=str(faults)))

    def make(*points: str) -> Pouchd:
        faults.write_text(json.dumps(list(points)))
        return fresh_daemon(plugins=[plugin])  # type: ignore[no-any-return]

    return make


def test_pre_start_hook_failure_stops_the_start(faulty) -> None:  # type: ignore[no-untyped-def]
    d: Pouchd = faulty("pre_start_hook").start(wait=False)
    assert d.proc is not None
    assert d.proc.wait(60) == 1
    assert "faulty.py failed at pre_start_hook" in d.log()
    assert "injected fault at pre_start_hook" in d.log()
    d.proc = None
    out = subprocess.run(["pgrep", "-f", str(d.home / "containerd")],
                         capture_output=True, text=True).stdout  # fmt: skip
    assert out == "", "the containerd it started is still running"
    assert not d.socket.exists()


def test_pre_stop_hook_failure_is_logged_and_shutdown_goes_on(faulty) -> None:  # type: ignore[no-untyped-def]
    d: Pouchd = faulty("pre_stop_hook").start()
    assert d.stop() == 0
    assert "faulty.py failed at pre_stop_hook" in d.log()
    out = subprocess.run(["pgrep", "-f", str(d.home / "containerd")],
                         capture_output=True, text=True).stdout  # fmt: skip
    assert out == ""


def test_pre_create_failure_fails_the_create(faulty) -> None:  # type: ignore[no-untyped-def]
    d: Pouchd = faulty("pre_create").start()
    d.load_busybox()
    status, body = d.status_of("POST", "/containers/create", {"Image": "busybox"})
    assert status == 500
    assert "faulty.py failed at pre_create" in body["message"]
    assert "injected fault at pre_create" in body["message"]
    assert d.api("GET", "/containers/json", all=1) == []
    assert "Active" not in ctr(d, "snapshots", "ls")  # no rootfs was prepared


def test_pre_start_failure_leaves_the_container_created_and_nothing_else(
    faulty,
) -> None:  # type: ignore[no-untyped-def]  # noqa: E501
    d: Pouchd = faulty("pre_start").start()
    d.load_busybox()
    cid = d.create(["sleep", "300"])
    status, body = d.status_of("POST", f"/containers/{cid}/start")
    assert status == 500
    assert "faulty.py failed at pre_start" in body["message"]
    doc = d.inspect(cid)
    assert doc["State"]["Status"] == "created"
    assert doc["NetworkSettings"]["Networks"]["bridge"]["IPAddress"] == ""
    assert leftovers(d) == []
    assert ctr(d, "containers", "ls", "-q") == ""
    assert ctr(d, "tasks", "ls", "-q") == ""
    assert allocations(d) == 0  # the address it had was given back
    (d.home.parent / "faults.json").write_text("[]")
    d.api("POST", f"/containers/{cid}/start")
    assert d.inspect(cid)["State"]["Running"]
    assert allocations(d) == 1
    d.api("DELETE", f"/containers/{cid}", force=1)
    assert allocations(d) == 0


def allocations(d: Pouchd) -> int:
    with sqlite3.connect(d.home / "pouchd.db") as db:
        return int(db.execute("SELECT count(*) FROM net_allocations").fetchone()[0])


def test_pre_create_endpoint_results_show_and_its_failure_gives_defaults(
    faulty,
) -> None:  # type: ignore[no-untyped-def]  # noqa: E501
    d: Pouchd = faulty().start()
    d.load_busybox()
    cid = d.run(["cat", "/sys/class/net/eth0/address"])
    assert d.wait(cid) == 0
    assert d.logs(cid) == b"02:42:ac:11:00:99\n"
    d.api("DELETE", f"/containers/{cid}")
    # While running, inspect shows what the plugin decided.
    cid = d.run(["sleep", "300"])
    net = d.inspect(cid)["NetworkSettings"]["Networks"]["bridge"]
    assert net["Priority"] == 10 and net["DisableResolver"] is True
    assert net["GenericParams"]["team"] == "blue"
    assert net["MacAddress"] == "02:42:ac:11:00:99"
    d.api("DELETE", f"/containers/{cid}", force=1)

    (d.home.parent / "faults.json").write_text('["pre_create_endpoint"]')
    cid = d.run(["sleep", "300"])
    net = d.inspect(cid)["NetworkSettings"]["Networks"]["bridge"]
    assert (net["Priority"], net["DisableResolver"], net["GenericParams"]) == (
        0,
        False,
        {},
    )  # noqa: E501
    assert net["IPAddress"]
    assert "faulty.py failed at pre_create_endpoint" in d.log()
    d.api("DELETE", f"/containers/{cid}", force=1)


@pytest.mark.parametrize(
    "source, message",
    [
        (None, "no such file"),
        ("X = 1\n", "defines neither DaemonPlugin nor ContainerPlugin"),
        ("raise ImportError('nope')\n", "cannot be imported"),
        (
            "class ContainerPlugin:\n    def __init__(self, x):\n        pass\n",
            "ContainerPlugin() failed: TypeError",
        ),
    ],
)
def test_a_bad_plugin_stops_the_daemon_at_start(
    fresh_daemon, tmp_path: Path, source, message
) -> None:  # type: ignore[no-untyped-def]  # noqa: E501
    path = tmp_path / "bad_plugin.py"
    if source is not None:
        path.write_text(source)
    d: Pouchd = fresh_daemon(plugins=[str(path)]).start(wait=False)
    assert d.proc is not None and d.proc.wait(60) == 1
    d.proc = None
    assert f"plugin {path}" in d.log() and message in d.log()
