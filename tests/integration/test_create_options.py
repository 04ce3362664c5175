"""Create options that change what runs: each shows its effect from inside a real
container, and each bad value is refused at create with a 400 that names it,
leaving nothing behind."""

from __future__ import annotations

import json
import os
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from dnslib import QTYPE, RR, A, DNSRecord

from pouch.client.streams import demux
from tests.integration.test_docker_cli import DOCKER, Docker
from tests.support.daemon import Pouchd

PREFIX = f"pco{os.getpid() % 1000}"
SUBNET = f"10.160.{os.getpid() % 250}.0/24"
RESTART_SUBNET = f"10.161.{os.getpid() % 250}.0/24"


def run_output(d: Pouchd, cmd: list[str], **body: Any) -> str:
    """What a busybox container running ``cmd`` prints; it is removed after."""
    cid = d.run(cmd, **body)
    try:
        assert d.wait(cid) == 0, d.logs(cid)
        return d.logs(cid).decode()
    finally:
        d.api("DELETE", f"/containers/{cid}", force=1)


def refused(d: Pouchd, body: dict[str, Any]) -> str:
    """The message of a create that must answer 400 and make nothing."""
    before = d.api("GET", "/containers/json", all=1)
    status, answer = d.status_of(
        "POST", "/containers/create", {"Image": "busybox", "Cmd": ["true"], **body}
    )
    assert status == 400, answer
    assert d.api("GET", "/containers/json", all=1) == before
    return str(answer["message"])


@pytest.fixture
def cleanup(daemon: Pouchd) -> Iterator[list[str]]:
    """Containers the test made go in this list; they are removed after it."""
    made: list[str] = []
    yield made
    for cid in reversed(made):
        daemon.status_of("DELETE", f"/containers/{cid}", force=1)


# -- sysctls ---------------------------------------------------------------------------


def test_sysctls_are_set_in_the_container(daemon: Pouchd) -> None:
    sysctls = {
        "kernel.shmmax": "123456789",
        "fs.mqueue.msg_max": "20",
        "net.core.somaxconn": "1111",
    }
    out = run_output(
        daemon,
        ["cat", "/proc/sys/kernel/shmmax", "/proc/sys/fs/mqueue/msg_max",
         "/proc/sys/net/core/somaxconn"],
        HostConfig={"Sysctls": sysctls},
    )  # fmt: skip
    assert out.split() == ["123456789", "20", "1111"]
    assert Path("/proc/sys/net/core/somaxconn").read_text().strip() != "1111"


@pytest.mark.parametrize(
    ("host", "words"),
    [
        ({"Sysctls": {"kernel.hostname": "x"}}, "'kernel.hostname' is not allowed"),
        ({"Sysctls": {"vm.swappiness": "1"}}, "net.* are namespaced"),
        (
            {"Sysctls": {"net.core.somaxconn": "1"}, "NetworkMode": "host"},
            "not allowed with NetworkMode host",
        ),
        (
            {"Sysctls": {"kernel.shmmax": "1"}, "IpcMode": "host"},
            "not allowed with IpcMode host",
        ),
    ],
)
def test_sysctls_outside_the_containers_namespaces_are_refused(
    daemon: Pouchd, host: dict[str, Any], words: str
) -> None:
    message = refused(daemon, {"HostConfig": host})
    assert "sysctl" in message and words in message


# -- resolv.conf and hosts -------------------------------------------------------------


def test_dns_settings_replace_the_hosts_on_the_default_bridge(daemon: Pouchd) -> None:
    host = {
        "Dns": ["10.9.8.7", "10.9.8.6"],
        "DnsSearch": ["example.test"],
        "DnsOptions": ["ndots:3", "timeout:1"],
    }
    out = run_output(daemon, ["cat", "/etc/resolv.conf"], HostConfig=host)
    assert out == (
        "search example.test\n"
        "nameserver 10.9.8.7\n"
        "nameserver 10.9.8.6\n"
        "options ndots:3 timeout:1\n"
    )


def test_dns_search_alone_keeps_the_hosts_servers(daemon: Pouchd) -> None:
    out = run_output(
        daemon, ["cat", "/etc/resolv.conf"], HostConfig={"DnsSearch": ["a.test"]}
    )
    assert out.splitlines()[0] == "search a.test"
    assert "nameserver" in out


class _Upstream:
    """A DNS server on a loopback address of the host that knows one name."""

    def __init__(self, address: str, name: str, answer: str) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind((address, 53))
        self.sock.settimeout(0.2)
        self.name, self.answer = name, answer
        self.asked: list[str] = []
        self.running = True
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while self.running:
            try:
                packet, peer = self.sock.recvfrom(4096)
            except TimeoutError:
                continue
            query = DNSRecord.parse(packet)
            qname = str(query.q.qname).rstrip(".")
            self.asked.append(qname)
            reply = query.reply()
            if qname == self.name and query.q.qtype == QTYPE.A:
                reply.add_answer(RR(query.q.qname, QTYPE.A, rdata=A(self.answer)))
            self.sock.sendto(reply.pack(), peer)

    def close(self) -> None:
        self.running = False
        self.thread.join()
        self.sock.close()


@pytest.fixture
def network(daemon: Pouchd) -> Iterator[str]:
    body = {
        "Name": f"{PREFIX}-net",
        "IPAM": {"Config": [{"Subnet": SUBNET}]},
        "Options": {"com.docker.network.bridge.name": f"{PREFIX}br"},
    }
    daemon.api("POST", "/networks/create", body)
    yield body["Name"]
    daemon.status_of("DELETE", f"/networks/{body['Name']}")


def test_dns_servers_are_the_embedded_resolvers_upstreams_on_a_user_network(
    daemon: Pouchd, network: str
) -> None:
    upstream = _Upstream("127.0.0.77", "upstream.test", "10.1.2.3")
    try:
        host = {
            "NetworkMode": network,
            "Dns": ["127.0.0.77"],
            "DnsSearch": ["example.test"],
        }
        out = run_output(
            daemon,
            ["sh", "-c", "cat /etc/resolv.conf; nslookup upstream.test"],
            HostConfig=host,
        )
    finally:
        upstream.close()
    assert out.startswith("search example.test\nnameserver 127.0.0.11\n")
    assert "127.0.0.77" not in out.split("Server:")[0]
    assert "10.1.2.3" in out
    assert "upstream.test" in upstream.asked


def test_the_upstreams_outlive_a_daemon_restart(fresh_daemon: Any) -> None:
    from tests.integration.test_dns_restart import exec_out

    d: Pouchd = fresh_daemon().start()
    d.load_busybox()
    body = {"Name": "up", "IPAM": {"Config": [{"Subnet": RESTART_SUBNET}]}}
    d.api("POST", "/networks/create", body)
    upstream = _Upstream("127.0.0.78", "after.test", "10.3.2.1")
    try:
        host = {"NetworkMode": "up", "Dns": ["127.0.0.78"]}
        cid = d.run(["sleep", "300"], HostConfig=host)
        assert d.stop() == 0
        d.start()
        code, out = exec_out(d, cid, ["nslookup", "after.test"])
        assert code == 0, out
        assert b"10.3.2.1" in out
    finally:
        upstream.close()
        d.remove_all()
        d.api("DELETE", "/networks/up")


def test_extra_hosts_are_lines_of_etc_hosts(daemon: Pouchd) -> None:
    host = {"ExtraHosts": ["db.local:10.1.2.3", "gw.local:host-gateway", "v6:::1"]}
    out = run_output(daemon, ["cat", "/etc/hosts"], HostConfig=host)
    gateway = daemon.bip.split("/")[0]
    lines = out.splitlines()
    assert "10.1.2.3\tdb.local" in lines
    assert f"{gateway}\tgw.local" in lines
    assert "::1\tv6" in lines


@pytest.mark.parametrize(
    ("host", "words"),
    [
        ({"ExtraHosts": ["nocolon"]}, "bad format for add-host: 'nocolon'"),
        ({"ExtraHosts": ["name:999.1.1.1"]}, "invalid IP address in add-host"),
        ({"Dns": ["not-an-ip"]}, "invalid HostConfig.Dns entry 'not-an-ip'"),
        ({"DnsSearch": ["a b"]}, "invalid HostConfig.DnsSearch entry"),
        ({"DnsOptions": ["ndots:1\nnameserver 1.1.1.1"]}, "HostConfig.DnsOptions"),
        (
            {"Dns": ["10.0.0.1"], "NetworkMode": "container:whatever"},
            "conflicting options: dns and the network mode",
        ),
    ],
)
def test_bad_dns_and_hosts_are_refused(
    daemon: Pouchd, host: dict[str, Any], words: str
) -> None:
    assert words in refused(daemon, {"HostConfig": host})


# -- PID, IPC and UTS modes ------------------------------------------------------------


def test_pid_host_sees_the_hosts_processes(daemon: Pouchd) -> None:
    assert daemon.proc is not None
    cmdline = f"/proc/{daemon.proc.pid}/cmdline"
    out = run_output(daemon, ["cat", cmdline], HostConfig={"PidMode": "host"})
    assert "pouchd" in out


def test_pid_container_shares_the_others_processes(
    daemon: Pouchd, cleanup: list[str]
) -> None:
    cleanup.append(daemon.run(["sleep", "300"]))
    out = run_output(
        daemon,
        ["cat", "/proc/1/cmdline"],
        HostConfig={"PidMode": f"container:{cleanup[0]}"},
    )
    assert out == "sleep\x00300\x00"


def test_ipc_host_and_shareable_donors(daemon: Pouchd, cleanup: list[str]) -> None:
    out = run_output(
        daemon, ["readlink", "/proc/self/ns/ipc"], HostConfig={"IpcMode": "host"}
    )
    assert out.strip() == os.readlink("/proc/self/ns/ipc")

    donor = daemon.run(
        ["sh", "-c", "echo shared > /dev/shm/marker; sleep 300"],
        HostConfig={"IpcMode": "shareable"},
    )
    cleanup.append(donor)
    deadline = time.monotonic() + 10
    pid = daemon.inspect(donor)["State"]["Pid"]
    while not os.path.exists(f"/proc/{pid}/root/dev/shm/marker"):
        assert time.monotonic() < deadline
        time.sleep(0.05)
    out = run_output(
        daemon,
        ["sh", "-c", "readlink /proc/self/ns/ipc; cat /dev/shm/marker"],
        HostConfig={"IpcMode": f"container:{donor}"},
    )
    assert out.split() == [os.readlink(f"/proc/{pid}/ns/ipc"), "shared"]

    # The donor's /dev/shm is a tmpfs on the host until its task ends.
    shm = daemon.home / "containers" / donor / "shm"
    assert os.path.ismount(shm)
    daemon.api("POST", f"/containers/{donor}/kill")
    daemon.wait(donor)
    assert not os.path.ismount(shm)


def test_ipc_none_has_no_dev_shm(daemon: Pouchd) -> None:
    out = run_output(daemon, ["cat", "/proc/mounts"], HostConfig={"IpcMode": "none"})
    assert " /dev/shm " not in out


def test_ipc_of_a_private_container_cannot_be_joined(
    daemon: Pouchd, cleanup: list[str]
) -> None:
    cleanup.append(daemon.run(["sleep", "300"]))
    message = refused(daemon, {"HostConfig": {"IpcMode": f"container:{cleanup[0]}"}})
    assert "non-shareable IPC" in message


def test_joining_a_stopped_container_fails_the_start(
    daemon: Pouchd, cleanup: list[str]
) -> None:
    cleanup.append(daemon.create(["true"]))
    cid = daemon.create(["true"], HostConfig={"PidMode": f"container:{cleanup[0]}"})
    cleanup.append(cid)
    status, answer = daemon.status_of("POST", f"/containers/{cid}/start")
    assert status == 409
    assert "PID namespace" in answer["message"]
    assert "not running" in answer["message"]


def test_uts_host_and_network_host_have_the_hosts_hostname(daemon: Pouchd) -> None:
    for host in ({"UTSMode": "host"}, {"NetworkMode": "host"}):
        out = run_output(daemon, ["hostname"], HostConfig=host)
        assert out.strip() == socket.gethostname()


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ({"HostConfig": {"PidMode": "bogus"}}, "invalid PID mode: bogus"),
        ({"HostConfig": {"IpcMode": "bogus"}}, "invalid IPC mode: bogus"),
        ({"HostConfig": {"UTSMode": "container:x"}}, "invalid UTS mode: container:x"),
        ({"HostConfig": {"PidMode": "container:"}}, "invalid PID mode: container:"),
        (
            {"HostConfig": {"PidMode": "container:no-such-one"}},
            "invalid PID mode container:no-such-one",
        ),
        (
            {"Hostname": "mine", "HostConfig": {"UTSMode": "host"}},
            "conflicting options: hostname and the UTS mode",
        ),
    ],
)
def test_bad_namespace_modes_are_refused(
    daemon: Pouchd, body: dict[str, Any], words: str
) -> None:
    assert words in refused(daemon, body)


# -- runtime ---------------------------------------------------------------------------


def test_runtime_runc_runs_and_others_are_refused(daemon: Pouchd) -> None:
    assert run_output(daemon, ["echo", "ok"], HostConfig={"Runtime": "runc"}) == "ok\n"
    message = refused(daemon, {"HostConfig": {"Runtime": "kata"}})
    assert message == "unknown or invalid runtime name: kata"


# -- logs ------------------------------------------------------------------------------


def _numbers(data: bytes) -> list[int]:
    return [int(word) for word in data.split()]


@pytest.mark.parametrize("open_stdin", [False, True])
def test_log_rotation_keeps_every_line_within_max_file(
    daemon: Pouchd, cleanup: list[str], open_stdin: bool
) -> None:
    """The log program the shim starts, and the one the daemon starts for a
    container with stdin open, rotate alike."""
    log_config = {"Type": "json-file", "Config": {"max-size": "1k", "max-file": "50"}}
    cid = daemon.run(
        ["seq", "1", "300"], OpenStdin=open_stdin, HostConfig={"LogConfig": log_config}
    )
    cleanup.append(cid)
    assert daemon.wait(cid) == 0

    path = Path(daemon.inspect(cid)["LogPath"])
    rotated = sorted(path.parent.glob(path.name + ".*"))
    assert len(rotated) >= 5
    for older in rotated:
        size = older.stat().st_size
        assert 1000 <= size < 1100, (older, size)
    on_disk = [
        int(json.loads(line)["log"])
        for n in range(len(rotated), 0, -1)
        for line in Path(f"{path}.{n}").read_text().splitlines()
    ] + [int(json.loads(line)["log"]) for line in path.read_text().splitlines()]
    assert on_disk == list(range(1, 301))
    assert _numbers(daemon.logs(cid)) == list(range(1, 301))

    stream = daemon.client.request(
        "GET", f"/containers/{cid}/logs", {"stdout": 1, "tail": 30}
    )
    tail = b"".join(data for _, data in demux(stream.chunks()))
    assert _numbers(tail) == list(range(271, 301))


def test_log_rotation_drops_the_oldest_beyond_max_file(
    daemon: Pouchd, cleanup: list[str]
) -> None:
    log_config = {"Config": {"max-size": "1k", "max-file": "3"}}
    cid = daemon.run(["seq", "1", "500"], HostConfig={"LogConfig": log_config})
    cleanup.append(cid)
    assert daemon.wait(cid) == 0

    path = Path(daemon.inspect(cid)["LogPath"])
    assert sorted(p.name for p in path.parent.glob(path.name + "*")) == [
        path.name, path.name + ".1", path.name + ".2"
    ]  # fmt: skip
    kept = _numbers(daemon.logs(cid))
    assert kept == list(range(kept[0], 501))
    assert kept[0] > 1


def test_a_follower_goes_on_across_rotations(
    daemon: Pouchd, cleanup: list[str]
) -> None:
    script = "for i in $(seq 1 80); do echo $i; sleep 0.01; done"
    log_config = {"Config": {"max-size": "600", "max-file": "40"}}
    cid = daemon.create(["sh", "-c", script], HostConfig={"LogConfig": log_config})
    cleanup.append(cid)
    stream = daemon.client.request(
        "GET", f"/containers/{cid}/logs", {"stdout": 1, "follow": 1}
    )
    daemon.api("POST", f"/containers/{cid}/start")
    followed = b"".join(data for _, data in demux(stream.chunks()))
    assert _numbers(followed) == list(range(1, 81))


def test_log_driver_none_keeps_no_log(daemon: Pouchd, cleanup: list[str]) -> None:
    cid = daemon.run(["echo", "hello"], HostConfig={"LogConfig": {"Type": "none"}})
    cleanup.append(cid)
    assert daemon.wait(cid) == 0
    doc = daemon.inspect(cid)
    assert doc["LogPath"] == ""
    assert doc["HostConfig"]["LogConfig"]["Type"] == "none"
    status, answer = daemon.status_of(
        "GET", f"/containers/{cid}/logs", stdout=1, stderr=1
    )
    assert status == 501
    assert answer["message"] == "configured logging driver does not support reading"
    directory = Path(doc["HostnamePath"]).parent
    assert not list(directory.glob("*-json.log*"))


@pytest.mark.parametrize(
    ("log_config", "words"),
    [
        ({"Type": "syslog"}, "log driver 'syslog' is not supported"),
        ({"Config": {"foo": "1"}}, "unknown log opt 'foo' for json-file log driver"),
        ({"Config": {"compress": "true"}}, "log-opt 'compress'"),
        ({"Config": {"max-size": "lots"}}, "invalid log-opt max-size 'lots'"),
        ({"Config": {"max-size": "0"}}, "max-size must be a positive number"),
        ({"Config": {"max-file": "0"}}, "max-file cannot be less than 1"),
        ({"Config": {"max-file": "two"}}, "invalid log-opt max-file 'two'"),
        ({"Type": "none", "Config": {"max-size": "1k"}}, "log-opt 'max-size'"),
    ],
)
def test_bad_log_configs_are_refused(
    daemon: Pouchd, log_config: dict[str, Any], words: str
) -> None:
    assert words in refused(daemon, {"HostConfig": {"LogConfig": log_config}})


# -- checks that used to wait for the start --------------------------------------------


def _available(key: str) -> str:
    for source in (
        f"/sys/fs/cgroup/cpuset/cpuset.effective_{key}",
        f"/sys/fs/cgroup/cpuset.{key}.effective",
        "/sys/devices/system/cpu/online" if key == "cpus" else "",
        "/sys/devices/system/node/online" if key == "mems" else "",
    ):
        if source and os.path.exists(source):
            return Path(source).read_text().strip()
    raise AssertionError(f"no cpuset {key} on this host")


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ({"StopSignal": "SIGBOGUS"}, "Invalid signal: SIGBOGUS"),
        (
            {"WorkingDir": "relative/dir"},
            "the working directory 'relative/dir' is invalid, it needs to be an "
            "absolute path",
        ),
        ({"HostConfig": {"CapAdd": ["NOPE"]}}, "unknown capability: 'NOPE'"),
        ({"HostConfig": {"CapDrop": ["CAP_BOGUS"]}}, "unknown capability"),
        ({"MacAddress": "zz:zz"}, "invalid MacAddress: invalid MAC address 'zz:zz'"),
        (
            {"NetworkingConfig": {"EndpointsConfig": {"bridge": {"MacAddress": "1"}}}},
            "invalid EndpointsConfig.bridge.MacAddress",
        ),
        (
            {"MacAddress": "02:42:ac:11:00:02", "HostConfig": {"NetworkMode": "host"}},
            "conflicting options: mac-address and the network mode",
        ),
        (
            {
                "HostConfig": {
                    "PortBindings": {"80/tcp": [{"HostIp": "nope", "HostPort": "1"}]}
                }
            },
            "invalid HostIp 'nope' for port 80/tcp",
        ),
        ({"HostConfig": {"CpuShares": 300000}}, "CpuShares 300000: at most 262144"),
        (
            {"HostConfig": {"CpusetCpus": "99-100"}},
            "Requested CPUs are not available - requested 99-100, available: "
            + _available("cpus"),
        ),
        (
            {"HostConfig": {"CpusetMems": "9"}},
            "Requested memory nodes are not available - requested 9, available: "
            + _available("mems"),
        ),
    ],
)
def test_start_failures_are_refused_at_create(
    daemon: Pouchd, body: dict[str, Any], words: str
) -> None:
    assert words in refused(daemon, body)


def test_a_valid_stop_signal_stops(daemon: Pouchd, cleanup: list[str]) -> None:
    script = "trap 'exit 7' USR1; while true; do sleep 0.1; done"
    cid = daemon.run(["sh", "-c", script], StopSignal="SIGUSR1")
    cleanup.append(cid)
    time.sleep(0.3)
    daemon.api("POST", f"/containers/{cid}/stop", t=5)
    assert daemon.inspect(cid)["State"]["ExitCode"] == 7


# -- through the docker CLI ------------------------------------------------------------


@pytest.fixture
def docker_cli(daemon: Pouchd, tmp_path: Path) -> Iterator[Docker]:
    if not Path(DOCKER).exists():
        pytest.skip("the docker CLI is not installed")
    yield Docker(daemon, tmp_path / "docker-config")
    for c in daemon.api("GET", "/containers/json", all=1):
        if any(n.startswith(f"/{PREFIX}-") for n in c["Names"]):
            daemon.api("DELETE", f"/containers/{c['Id']}", force=1)


def test_docker_cli_run_with_options(daemon: Pouchd, docker_cli: Docker) -> None:
    name = f"{PREFIX}-cli"
    script = (
        "cat /proc/sys/net/core/somaxconn; grep db.test /etc/hosts; "
        "grep nameserver /etc/resolv.conf; seq 1 200"
    )
    out = docker_cli.ok(
        "run", "--name", name, "--sysctl", "net.core.somaxconn=1234",
        "--add-host", "db.test:10.4.5.6", "--dns", "10.7.7.7",
        "--log-opt", "max-size=1k", "--log-opt", "max-file=20",
        "busybox", "sh", "-c", script,
    )  # fmt: skip
    lines = out.splitlines()
    assert lines[:3] == ["1234", "10.4.5.6\tdb.test", "nameserver 10.7.7.7"]
    assert lines[3:] == [str(n) for n in range(1, 201)]
    assert docker_cli.ok("logs", name).splitlines() == lines

    doc = json.loads(docker_cli.ok("inspect", name))[0]
    assert doc["HostConfig"]["LogConfig"] == {
        "Type": "json-file", "Config": {"max-size": "1k", "max-file": "20"}
    }  # fmt: skip
    log_path = Path(doc["LogPath"])
    assert Path(f"{log_path}.1").exists() and Path(f"{log_path}.2").exists()

    quiet = f"{PREFIX}-none"
    assert docker_cli.ok(
        "run", "--name", quiet, "--log-driver", "none", "busybox", "echo", "hello"
    ) == "hello\n"  # fmt: skip
    done = docker_cli("logs", quiet)
    assert done.returncode != 0
    assert "configured logging driver does not support reading" in done.stderr
    # Attach follows the none driver's buffer through its rotations.
    out = docker_cli.ok(
        "run", "--rm", "--log-driver", "none", "busybox", "seq", "1", "100000"
    )  # fmt: skip
    assert out.split() == [str(n) for n in range(1, 100001)]

    done = docker_cli(
        "run", "--rm", "--network", "host", "--sysctl", "net.core.somaxconn=1",
        "busybox", "true",
    )  # fmt: skip
    assert done.returncode == 125
    assert "sysctl 'net.core.somaxconn' is not allowed with NetworkMode host" in (
        done.stderr
    )
