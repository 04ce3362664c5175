"""The real docker CLI (28) drives pouchd unchanged: each command's exit code and
output are those dockerd gives."""

from __future__ import annotations

import http.client
import json
import os
import pty
import select
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.daemon import BUSYBOX_TAR, Pouchd
from tests.support.registry import REGISTRY_BIN, Registry

DOCKER = shutil.which("docker") or "/usr/local/bin/docker"

pytestmark = pytest.mark.skipif(
    not Path(DOCKER).exists(), reason="the docker CLI is not installed"
)


class Docker:
    def __init__(self, daemon: Pouchd, config: Path) -> None:
        self.env = {
            **os.environ,
            "DOCKER_HOST": daemon.host,
            "DOCKER_CONFIG": str(config),
        }

    def __call__(
        self, *args: str, input: str | None = None, timeout: float = 60
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [DOCKER, *args],
            capture_output=True,
            text=True,
            env=self.env,
            input=input,
            timeout=timeout,
        )

    def ok(self, *args: str, input: str | None = None) -> str:
        done = self(*args, input=input)
        assert done.returncode == 0, f"docker {' '.join(args)}: {done.stderr}"
        return done.stdout


@pytest.fixture
def docker(daemon: Pouchd, tmp_path: Path) -> Iterator[Docker]:
    cli = Docker(daemon, tmp_path / "docker-config")
    yield cli
    for c in daemon.api("GET", "/containers/json", all=1):
        if any(n.startswith("/cli-") for n in c["Names"]):
            daemon.api("DELETE", f"/containers/{c['Id']}", force=1)


def test_version_info_images(docker: Docker) -> None:
    version = docker.ok("version", "--format", "{{json .Server}}")
    server = json.loads(version)
    assert server["ApiVersion"] == "1.43"
    assert server["MinAPIVersion"] == "1.24"
    assert server["Os"] == "linux"

    info = docker.ok("info", "--format", "{{json .}}")
    assert json.loads(info)["OSType"] == "linux"
    assert json.loads(info)["SecurityOptions"] == ["name=seccomp,profile=builtin"]

    images = docker.ok("images")
    assert images.splitlines()[0].split() == [
        "REPOSITORY", "TAG", "IMAGE", "ID", "CREATED", "SIZE"
    ]  # fmt: skip
    assert any(
        line.split()[:2] == ["busybox", "latest"] for line in images.splitlines()
    )  # noqa: E501


def _raw_get(daemon: Pouchd, path: str) -> tuple[int, dict[str, object], bytes]:
    conn = http.client.HTTPConnection("localhost")
    sock = socket.socket(socket.AF_UNIX)
    sock.connect(str(daemon.socket))
    conn.sock = sock
    conn.request("GET", path)
    response = conn.getresponse()
    headers = dict(response.getheaders())
    body = response.read()
    conn.close()
    return response.status, headers, body


def test_api_version_negotiation(daemon: Pouchd) -> None:
    status, headers, _ = _raw_get(daemon, "/_ping")
    assert status == 200
    assert headers["Api-Version"] == "1.43"
    assert headers["Ostype"] == "linux"
    assert headers["Docker-Experimental"] == "false"
    status, headers, body = _raw_get(daemon, "/v1.99/version")
    assert status == 400
    assert headers["Content-Type"] == "application/json"
    assert json.loads(body)["message"] == (
        "client version 1.99 is too new. Maximum supported API version is 1.43"
    )
    status, _, body = _raw_get(daemon, "/v1.12/version")
    assert status == 400
    assert json.loads(body)["message"] == (
        "client version 1.12 is too old. Minimum supported API version is 1.24, "
        "please upgrade your client to a newer version"
    )
    assert _raw_get(daemon, "/v1.24/version")[0] == 200


def test_load_tag_rmi(docker: Docker) -> None:
    out = docker.ok("load", "-i", str(BUSYBOX_TAR))
    assert out.strip() == "Loaded image: busybox:latest"
    docker.ok("tag", "busybox", "cli-test/busybox:v1")
    out = docker.ok("rmi", "cli-test/busybox:v1")
    assert out.strip() == "Untagged: cli-test/busybox:v1"
    missing = docker("rmi", "cli-test/busybox:v1")
    assert missing.returncode == 1
    assert "No such image: cli-test/busybox:v1" in missing.stderr


def test_untagged_images_show_none(docker: Docker, tmp_path: Path) -> None:
    from tests.support.images import busybox_parts, image_archive, layer_tar

    (tmp_path / "rootfs.tar").write_bytes(busybox_parts()[1])
    imported = docker.ok("import", str(tmp_path / "rootfs.tar")).strip()
    assert imported.startswith("sha256:")
    rows = [line.split()[:3] for line in docker.ok("images").splitlines()]
    assert ["<none>", "<none>", imported[7:19]] in rows
    image_archive(tmp_path / "unnamed.tar", None, [layer_tar({"cli": b"1"})])
    loaded = docker.ok("load", "-i", str(tmp_path / "unnamed.tar")).strip()
    assert loaded.startswith("Loaded image ID: sha256:")
    loaded = loaded.rsplit(" ", 1)[-1]
    dangling = docker.ok("images", "-q", "--filter", "dangling=true").split()
    assert sorted(dangling) == sorted([imported[7:19], loaded[7:19]])

    pruned = docker.ok("image", "prune", "-f")
    assert f"deleted: {imported}" in pruned and f"deleted: {loaded}" in pruned
    assert docker.ok("images", "-q", "--filter", "dangling=true") == ""


def test_pull_from_local_registry(docker: Docker, tmp_path: Path) -> None:
    if not Path(REGISTRY_BIN).exists():
        pytest.skip("docker-registry is not installed")
    registry = Registry(tmp_path / "registry").start()
    try:
        name = f"{registry.host}/cli/busybox:v1"
        docker.ok("tag", "busybox", name)
        docker.ok("push", name)
        docker.ok("rmi", name)
        pulled = docker.ok("pull", name)
        assert f"Status: Downloaded newer image for {name}" in pulled
        assert docker.ok("run", "--rm", name, "echo", "pulled").strip() == "pulled"
        docker.ok("rmi", name)
    finally:
        registry.stop()


def test_run_rm_output_and_exit_code(docker: Docker) -> None:
    done = docker(
        "run", "--rm", "busybox", "sh", "-c", "echo out; echo err >&2; exit 3"
    )
    assert done.returncode == 3
    assert done.stdout == "out\n"
    assert done.stderr == "err\n"
    ok = docker("run", "--rm", "--name", "cli-rm", "busybox", "echo", "hello")
    assert (ok.returncode, ok.stdout) == (0, "hello\n")
    assert docker("inspect", "cli-rm").returncode == 1  # removed


def test_run_with_piped_stdin(docker: Docker) -> None:
    """Without a terminal, stdin reaches the task and its end is an EOF."""
    echoed = docker("run", "--rm", "-i", "busybox", "cat", input="hello\n")
    assert (echoed.returncode, echoed.stdout) == (0, "hello\n")
    script = "while read x; do echo got-$x; echo e-$x >&2; done; exit 4"
    lines = docker("run", "--rm", "-i", "busybox", "sh", "-c", script, input="a\nb\n")
    assert (lines.returncode, lines.stdout, lines.stderr) == (
        4,
        "got-a\ngot-b\n",
        "e-a\ne-b\n",
    )


def test_run_missing_command_and_image(docker: Docker) -> None:
    missing = docker(
        "run", "--rm", "--name", "cli-missing", "busybox", "no-such-command"
    )  # noqa: E501
    assert missing.returncode == 127
    assert 'exec: "no-such-command": executable file not found' in missing.stderr
    assert docker("inspect", "cli-missing").returncode == 1  # removed, as with --rm
    no_image = docker("run", "--rm", "127.0.0.1:1/none/such:v1", "true")
    assert no_image.returncode == 125
    assert "Unable to find image '127.0.0.1:1/none/such:v1' locally" in no_image.stderr


def test_run_detached_lifecycle(docker: Docker) -> None:
    cid = docker.ok("run", "-d", "--name", "cli-web", "busybox", "sleep", "300").strip()
    assert len(cid) == 64
    ps = docker.ok(
        "ps", "-a", "--filter", "name=cli-web", "--format", "{{.Names}} {{.Status}}"
    )  # noqa: E501
    assert ps.startswith("cli-web Up")
    state = docker.ok("inspect", "-f", "{{.State.Status}} {{.Id}}", "cli-web").split()
    assert state == ["running", cid]

    assert docker.ok("stop", "-t", "1", "cli-web").strip() == "cli-web"
    assert (
        docker.ok("inspect", "-f", "{{.State.Status}}", "cli-web").strip() == "exited"
    )
    assert docker.ok("start", "cli-web").strip() == "cli-web"
    assert docker.ok("restart", "-t", "1", "cli-web").strip() == "cli-web"
    assert docker.ok("kill", "cli-web").strip() == "cli-web"
    assert docker.ok("wait", "cli-web").strip() == "137"
    code = docker.ok("inspect", "-f", "{{.State.ExitCode}}", "cli-web").strip()
    assert code == "137"
    not_running = docker("kill", "cli-web")
    assert not_running.returncode == 1
    assert "is not running" in not_running.stderr
    docker.ok("start", "cli-web")
    refused = docker("rm", "cli-web")
    assert refused.returncode == 1
    assert "Stop the container before attempting removal or force remove" in (
        refused.stderr
    )
    assert docker.ok("rm", "-f", "cli-web").strip() == "cli-web"
    gone = docker("inspect", "cli-web")
    assert gone.returncode == 1
    assert "No such object: cli-web" in gone.stderr


def test_logs_follow(docker: Docker) -> None:
    docker.ok(
        "run", "-d", "--name", "cli-logs", "busybox",
        "sh", "-c", "for i in 1 2 3; do echo line$i; sleep 0.3; done",
    )  # fmt: skip
    follow = docker("logs", "-f", "cli-logs", timeout=30)
    assert follow.returncode == 0
    assert follow.stdout == "line1\nline2\nline3\n"
    docker.ok("rm", "cli-logs")


def test_exec(docker: Docker) -> None:
    docker.ok("run", "-d", "--name", "cli-exec", "busybox", "sleep", "300")
    done = docker("exec", "cli-exec", "sh", "-c", "echo out; echo err >&2; exit 4")
    assert (done.returncode, done.stdout, done.stderr) == (4, "out\n", "err\n")
    piped = docker("exec", "-i", "cli-exec", "cat", input="piped\n")
    assert (piped.returncode, piped.stdout) == (0, "piped\n")
    env = docker.ok("exec", "-w", "/tmp", "-e", "X=1", "-u", "nobody", "cli-exec",
                    "sh", "-c", "pwd; echo $X; id -u")  # fmt: skip
    assert env == "/tmp\n1\n65534\n"
    missing = docker("exec", "cli-exec", "no-such-command")
    assert missing.returncode == 126
    assert 'exec: "no-such-command": executable file not found' in missing.stdout
    assert docker("exec", "-d", "cli-exec", "sleep", "1").returncode == 0
    docker.ok("rm", "-f", "cli-exec")
    stopped = docker("exec", "cli-exec", "true")
    assert stopped.returncode == 1


def _pty_session(
    env: dict[str, str], argv: list[str], keys: list[bytes]
) -> tuple[bytes, int]:  # noqa: E501
    """Runs ``argv`` on a pseudo-terminal, typing ``keys`` one by one."""
    pid, fd = pty.fork()
    if pid == 0:  # pragma: no cover - the child
        os.execve(argv[0], argv, env)
    out = b""

    def read_for(seconds: float) -> None:
        nonlocal out
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            ready, _, _ = select.select([fd], [], [], 0.1)
            if ready:
                try:
                    out += os.read(fd, 4096)
                except OSError:
                    return

    read_for(2)
    for key in keys:
        os.write(fd, key)
        read_for(1.5)
    _, status = os.waitpid(pid, 0)
    os.close(fd)
    return out, os.waitstatus_to_exitcode(status)


def test_run_it_through_a_pty(docker: Docker) -> None:
    argv = [DOCKER, "run", "-it", "--rm", "--name", "cli-tty", "busybox", "sh"]
    out, code = _pty_session(docker.env, argv, [b"echo hi-$((1+2))\r", b"exit 7\r"])
    assert code == 7
    assert b"hi-3\r\n" in out
    assert b"/ # " in out


def test_run_it_detach_and_a_vanished_client_leave_it_running(docker: Docker) -> None:
    # ctrl-p ctrl-q detaches; the container and its shell go on.
    argv = [DOCKER, "run", "-it", "--name", "cli-tty-detach", "busybox", "sh"]
    _, code = _pty_session(docker.env, argv, [b"\x10\x11"])
    assert code == 0
    # A client that goes away without a word (killed): with a terminal, its stdin
    # stays open, as with dockerd, so the shell does not see an end of input.
    pid, fd = pty.fork()
    if pid == 0:  # pragma: no cover - the child
        argv = [DOCKER, "run", "-it", "--name", "cli-tty-gone", "busybox", "sh"]
        os.execve(argv[0], argv, docker.env)
    deadline = time.monotonic() + 20
    while (
        docker("inspect", "-f", "{{.State.Running}}", "cli-tty-gone").stdout.strip()
        != "true"
    ):
        assert time.monotonic() < deadline
        time.sleep(0.1)
    time.sleep(0.5)  # attached
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
    os.close(fd)
    time.sleep(1.5)
    for name in ("cli-tty-detach", "cli-tty-gone"):
        assert (
            docker.ok("inspect", "-f", "{{.State.Status}}", name).strip() == "running"
        )
    # The next attach finds the shell waiting.
    out, code = _pty_session(docker.env, [DOCKER, "attach", "cli-tty-gone"],
                             [b"echo back-$((3+4))\r", b"exit 4\r"])  # fmt: skip
    assert code == 4 and b"back-7" in out


def test_exec_it_through_a_pty(docker: Docker) -> None:
    docker.ok("run", "-d", "--name", "cli-exec-tty", "busybox", "sleep", "300")
    argv = [DOCKER, "exec", "-it", "cli-exec-tty", "sh"]
    out, code = _pty_session(docker.env, argv, [b"tty; echo t-$((2*3))\r", b"exit 2\r"])  # noqa: E501
    assert code == 2
    assert b"t-6\r\n" in out
    assert b"/dev/pts/" in out
    docker.ok("rm", "-f", "cli-exec-tty")


def test_top_and_stats(docker: Docker) -> None:
    docker.ok("run", "-d", "--name", "cli-top", "-m", "64m", "busybox", "sleep", "300")
    top = docker.ok("top", "cli-top").splitlines()
    assert top[0].split()[:3] == ["UID", "PID", "PPID"]
    assert top[1].endswith("sleep 300")
    stats = docker.ok("stats", "--no-stream", "cli-top").splitlines()
    assert stats[0].split()[:3] == ["CONTAINER", "ID", "NAME"]
    row = stats[1].split()
    assert row[1] == "cli-top"
    assert "64MiB" in stats[1]
    docker.ok("rm", "-f", "cli-top")
    gone = docker("top", "cli-top")
    assert gone.returncode == 1
    assert "No such container: cli-top" in gone.stderr


def test_cp_both_ways(docker: Docker, tmp_path: Path) -> None:
    docker.ok("run", "-d", "--name", "cli-cp", "busybox", "sleep", "300")
    source = tmp_path / "in.txt"
    source.write_text("to the container\n")
    docker.ok("cp", str(source), "cli-cp:/tmp/")
    assert docker.ok("exec", "cli-cp", "cat", "/tmp/in.txt") == "to the container\n"
    docker.ok("cp", "cli-cp:/etc/hostname", str(tmp_path / "hostname"))
    cid = docker.ok("inspect", "-f", "{{.Id}}", "cli-cp").strip()
    assert (tmp_path / "hostname").read_text().strip() == cid[:12]
    docker.ok("cp", "cli-cp:/etc", str(tmp_path / "etc"))
    assert (tmp_path / "etc" / "passwd").exists()

    # A stopped container's rootfs is mounted just for the copy.
    docker.ok("stop", "-t", "0", "cli-cp")
    docker.ok("cp", "cli-cp:/tmp/in.txt", str(tmp_path / "back.txt"))
    assert (tmp_path / "back.txt").read_text() == "to the container\n"
    docker.ok("cp", str(source), "cli-cp:/in2.txt")
    docker.ok("start", "cli-cp")
    assert docker.ok("exec", "cli-cp", "cat", "/in2.txt") == "to the container\n"
    missing = docker("cp", "cli-cp:/no-such-file", str(tmp_path / "x"))
    assert missing.returncode == 1
    assert "Could not find the file /no-such-file in container cli-cp" in (
        missing.stderr
    )
    docker.ok("rm", "-f", "cli-cp")


def test_run_host_options(docker: Docker) -> None:
    script = (
        "ulimit -n; ulimit -Hn; df -k /dev/shm | tail -1; mount | grep scratch; "
        "touch /x 2>&1; grep NoNewPrivs /proc/self/status; ls -l /dev/mynull; "
        "cd /sys/fs/cgroup; cat cpu/cpu.cfs_quota_us cpuset/cpuset.cpus "
        "memory/memory.limit_in_bytes memory/memory.memsw.limit_in_bytes "
        "pids/pids.max; grep oom_kill_disable memory/memory.oom_control; id"
    )
    out = docker.ok(
        "run", "--rm", "--ulimit", "nofile=1024:2048", "--shm-size", "32m",
        "--tmpfs", "/scratch:size=1m", "--read-only", "--cap-add", "NET_ADMIN",
        "--security-opt", "no-new-privileges", "--device", "/dev/null:/dev/mynull",
        "--cpus", "0.5", "--cpuset-cpus", "0", "-m", "64m", "--memory-swap", "128m",
        "--pids-limit", "50", "--oom-kill-disable", "--user", "1000:1000",
        "--group-add", "123", "--group-add", "nobody", "busybox", "sh", "-c", script,
    ).splitlines()  # fmt: skip
    assert out[:2] == ["1024", "2048"]
    assert out[2].split()[1] == "32768"
    assert "size=1024k" in out[3]
    assert out[4] == "touch: /x: Read-only file system"
    assert out[5].split() == ["NoNewPrivs:", "1"]
    assert out[6].startswith("crw")
    assert out[7:12] == ["50000", "0", "67108864", "134217728", "50"]
    assert out[12] == "oom_kill_disable 1"
    # "nobody" is the image's group 65534, found in its /etc/group.
    assert out[13] == "uid=1000 gid=1000 groups=123,65534(nobody)"

    too_many = docker("run", "--rm", "--cpus", "99", "busybox", "true")
    assert too_many.returncode == 125
    assert "Range of CPUs is from 0.01 to" in too_many.stderr


def test_stop_signal_and_timeout(docker: Docker) -> None:
    docker.ok(
        "run", "-d", "--name", "cli-stopsig", "--stop-signal", "SIGUSR1",
        "--stop-timeout", "5", "busybox", "sh", "-c",
        "trap 'exit 9' USR1; while true; do sleep 0.1; done",
    )  # fmt: skip
    docker.ok("stop", "cli-stopsig")
    assert docker.ok("inspect", "-f", "{{.State.ExitCode}}", "cli-stopsig") == "9\n"
    docker.ok("rm", "cli-stopsig")


def test_system_df_counts_images_in_use(docker: Docker) -> None:
    docker.ok("run", "-d", "--name", "cli-df", "busybox", "sleep", "300")
    rows = dict(
        line.split("|", 1)
        for line in docker.ok(
            "system", "df", "--format", "{{.Type}}|{{.Active}} {{.Reclaimable}}"
        ).splitlines()
    )
    active, reclaimable = rows["Images"].split(" ", 1)
    assert int(active) >= 1
    # busybox is in use, so not everything can be reclaimed.
    assert "(100%)" not in reclaimable, rows
    docker.ok("rm", "-f", "cli-df")
