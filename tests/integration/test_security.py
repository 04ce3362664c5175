"""Seccomp and capabilities on real containers: what the default filter refuses,
and what --cap-add, --privileged and --security-opt change."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

from tests.support.daemon import BIN, Pouchd

STATUS = "grep -E '^(Seccomp|CapEff):' /proc/self/status"


def pouch(d: Pouchd, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "POUCH_HOST": d.host}
    return subprocess.run([str(BIN / "pouch"), *args], capture_output=True,
                          text=True, env=env, timeout=60)  # fmt: skip


def status(text: str) -> dict[str, str]:
    return dict(line.split(":\t") for line in text.splitlines() if ":\t" in line)


def test_the_default_filter_refuses_new_namespaces(daemon: Pouchd) -> None:
    done = pouch(daemon, "run", "--rm", "busybox", "sh", "-c",
                 f"{STATUS}; unshare -U -r true")  # fmt: skip
    assert status(done.stdout)["Seccomp"] == "2"  # a filter is on
    # CLONE_NEWUSER needs no capability: only the filter refuses it (see below,
    # where an unconfined container makes one).
    assert "unshare(0x10000000): Operation not permitted" in done.stderr
    # Ordinary work is untouched: processes, files, sockets.
    work = pouch(daemon, "run", "--rm", "busybox", "sh", "-c",
                 "sleep 0 & wait; mkdir /d && touch /d/f && ls /d; nc -l -p 1 -w 0 &"
                 " echo ok")  # fmt: skip
    assert work.returncode == 0 and work.stdout.split() == ["f", "ok"], work


def test_capabilities_and_options_lift_it(daemon: Pouchd) -> None:
    admin = pouch(daemon, "run", "--rm", "--cap-add", "SYS_ADMIN", "busybox", "sh",
                  "-c", "unshare -n true && mkdir /m && mount -t tmpfs t /m && "
                  "echo both")  # fmt: skip
    assert admin.stdout.strip() == "both", admin.stderr
    userns = "unshare -U -r true && echo ns"
    unconfined = pouch(daemon, "run", "--rm", "--security-opt", "seccomp=unconfined",
                       "busybox", "sh", "-c", f"{STATUS}; {userns}")  # fmt: skip
    assert status(unconfined.stdout)["Seccomp"] == "0"
    assert unconfined.stdout.split()[-1] == "ns", unconfined.stderr
    mount = "mkdir /m && mount -t tmpfs t /m && echo mounted"
    privileged = pouch(daemon, "run", "--rm", "--privileged", "busybox", "sh", "-c",
                       f"{STATUS}; {mount}")  # fmt: skip
    assert privileged.returncode == 0, privileged.stderr
    shown = status(privileged.stdout)
    assert shown["Seccomp"] == "0"
    with open("/proc/self/status") as f:  # every capability the daemon may give
        assert shown["CapEff"] == status(f.read())["CapBnd"]
    assert privileged.stdout.split()[-1] == "mounted"


def test_a_profile_file_replaces_the_default(daemon: Pouchd, tmp_path: Path) -> None:
    profile = tmp_path / "no-mkdir.json"
    profile.write_text(json.dumps({
        "defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO",
                      "errnoRet": 1}],
    }))  # fmt: skip
    script = "mkdir /x; unshare -U -r true && echo ns"
    done = pouch(daemon, "run", "--rm", "--security-opt", f"seccomp={profile}",
                 "busybox", "sh", "-c", script)  # fmt: skip
    assert "can't create directory '/x': Operation not permitted" in done.stderr
    assert done.stdout.strip() == "ns"  # this profile leaves user namespaces open
    bad = tmp_path / "bad.json"
    bad.write_text('{"syscalls": []}')
    refused = pouch(daemon, "run", "--rm", "--security-opt", f"seccomp={bad}",
                    "busybox", "true")  # fmt: skip
    assert refused.returncode == 125
    assert "invalid seccomp profile: defaultAction is required" in refused.stderr
    missing = pouch(daemon, "run", "--rm", "--security-opt",
                    f"seccomp={tmp_path / 'none.json'}", "busybox", "true")  # fmt: skip
    assert missing.returncode == 125 and "opening seccomp profile" in missing.stderr
