"""``pouch run -i``, ``run -it``, ``exec -i`` and ``attach`` against a real daemon:
stdin reaches the container, its end is the container's EOF, and the command exits
with the container's status."""

from __future__ import annotations

import os
import select
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.daemon import Pouchd

POUCH = str(Path(sys.executable).parent / "pouch")


def pouch(
    d: Pouchd, *args: str, stdin: str = "", timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "POUCH_HOST": d.host}
    return subprocess.run(
        [POUCH, *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=env,
        timeout=timeout,
    )


@pytest.fixture
def names(daemon: Pouchd) -> Iterator[list[str]]:
    """Container names the test makes; each is removed after it, pass or fail."""
    made: list[str] = []
    yield made
    for name in made:
        pouch(daemon, "rm", "-f", name)


def test_run_i_copies_piped_stdin_and_its_end(daemon: Pouchd, names: list[str]) -> None:
    names.append("ix-cat")
    done = pouch(daemon, "run", "-i", "--rm", "--name", "ix-cat", "busybox", "cat",
                 stdin="piped\nsecond line\n")  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout == "piped\nsecond line\n"
    assert "ix-cat" not in pouch(daemon, "ps", "-a").stdout  # --rm removed it


def test_run_i_exits_with_the_containers_status(
    daemon: Pouchd, names: list[str]
) -> None:
    names.append("ix-read")
    script = "read x; echo got $x; echo oops >&2; exit 3"
    done = pouch(daemon, "run", "-i", "--name", "ix-read", "busybox", "sh", "-c",
                 script, stdin="world\n")  # fmt: skip
    assert done.returncode == 3, done.stderr
    assert done.stdout == "got world\n"
    assert done.stderr == "oops\n"


def _run_in_pty(
    d: Pouchd, args: list[str], typed: bytes, prompt: bytes = b"# "
) -> tuple[int, bytes]:
    """Runs pouch on a new terminal, types once the shell prompts, reads until it
    exits; its status and everything it showed."""
    main, child = os.openpty()
    env = {**os.environ, "POUCH_HOST": d.host}
    proc = subprocess.Popen([POUCH, *args], stdin=child, stdout=child,
                            stderr=child, env=env, close_fds=True)  # fmt: skip
    os.close(child)
    shown = b""
    sent = False
    deadline = time.monotonic() + 60
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([main], [], [], 0.5)
            if ready:
                try:
                    data = os.read(main, 4096)
                except OSError:  # EIO: every writer of the terminal is gone
                    break
                if not data:
                    break
                shown += data
            if not sent and prompt in shown:
                os.write(main, typed)
                sent = True
            if proc.poll() is not None and not ready:
                break
        return proc.wait(timeout=10), shown
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        os.close(main)


def test_run_it_through_a_terminal(daemon: Pouchd, names: list[str]) -> None:
    names.append("ix-tty")
    code, shown = _run_in_pty(
        daemon,
        ["run", "-it", "--rm", "--name", "ix-tty", "busybox", "sh"],
        b"echo h''i; exit 4\n",
    )
    assert code == 4, shown
    assert b"\nhi\r\n" in shown


def test_exec_i_and_it(daemon: Pouchd, names: list[str]) -> None:
    names.append("ix-exec")
    started = pouch(daemon, "run", "-d", "--name", "ix-exec", "busybox",
                    "sleep", "300")  # fmt: skip
    assert started.returncode == 0, started.stderr
    done = pouch(daemon, "exec", "-i", "ix-exec", "sh", "-c", "cat; exit 2",
                 stdin="to exec\n")  # fmt: skip
    assert done.returncode == 2, done.stderr
    assert done.stdout == "to exec\n"
    code, shown = _run_in_pty(
        daemon, ["exec", "-it", "ix-exec", "sh"], b"echo e''x; exit 5\n"
    )
    assert code == 5, shown
    assert b"\nex\r\n" in shown


def test_attach_gets_input_and_exit_status(daemon: Pouchd, names: list[str]) -> None:
    names.append("ix-attach")
    started = pouch(daemon, "run", "-d", "-i", "--name", "ix-attach", "busybox",
                    "sh", "-c", "read x; echo got $x; exit 7")  # fmt: skip
    assert started.returncode == 0, started.stderr
    done = pouch(daemon, "attach", "ix-attach", stdin="attached\n")
    assert done.returncode == 7, done.stderr
    assert done.stdout == "got attached\n"


def test_detaching_leaves_the_container_running(
    daemon: Pouchd, names: list[str]
) -> None:
    names.append("ix-detach")
    code, shown = _run_in_pty(
        daemon,
        ["run", "-it", "--name", "ix-detach", "busybox", "sh"],
        b"\x10\x11",  # ctrl-p ctrl-q
    )
    assert code == 0, shown
    time.sleep(0.5)
    status = pouch(daemon, "inspect", "-f", "{{.State.Status}}", "ix-detach")
    assert status.stdout.strip() == "running"
    # Its stdin is still there for the next one to attach.
    code, shown = _run_in_pty(daemon, ["attach", "ix-detach"], b"exit 6\n", b"")
    assert code == 6, shown


def test_a_failed_start_with_open_stdin_leaves_no_log_program(
    daemon: Pouchd, names: list[str]
) -> None:
    names.append("ix-nocmd")
    done = pouch(daemon, "run", "-i", "--name", "ix-nocmd", "busybox", "/no/such",
                 stdin="")  # fmt: skip
    assert done.returncode != 0
    cid = pouch(daemon, "inspect", "-f", "{{.Id}}", "ix-nocmd").stdout.strip()
    fifo = str(daemon.home / "containers" / cid / "stdout")
    deadline = time.monotonic() + 10
    while subprocess.run(["pgrep", "-f", fifo], capture_output=True).returncode == 0:
        assert time.monotonic() < deadline, "the log program still waits on its FIFOs"
        time.sleep(0.1)
