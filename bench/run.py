"""Start-up benchmarks against peers measured in the same run, on the same containerd.

- ``pouch run -d`` (the CLI, a process per call) against ``ctr run -d``;
- create + start through pouchd's HTTP API alone against ``ctr run -d``;
- ``pouch ps`` against ``docker ps`` (the docker CLI) on the same pouchd.

Prints the median of each over --runs, and each ratio. Not a test: nothing is asserted.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.support.daemon import Pouchd  # noqa: E402

BIN = Path(sys.executable).parent
IMAGE = "docker.io/library/busybox:latest"


def median_ms(samples: list[float]) -> float:
    return statistics.median(samples) * 1000


def run(cmd: list[str], env: dict[str, str] | None = None) -> str:
    out = subprocess.run(cmd, capture_output=True, text=True, env=env, check=True)
    return out.stdout.strip()


class Bench:
    def __init__(self, daemon: Pouchd, runs: int) -> None:
        self.d = daemon
        self.runs = runs
        self.env = {**os.environ, "POUCH_HOST": daemon.host}
        sock = daemon.home / "containerd" / "containerd.sock"
        self.ctr = ["ctr", "-a", str(sock), "-n", "default"]

    def pouch_run(self) -> list[float]:
        samples = []
        for _ in range(self.runs):
            cmd = [str(BIN / "pouch"), "run", "-d", "busybox", "sleep", "300"]
            started = time.perf_counter()
            cid = run(cmd, self.env)
            samples.append(time.perf_counter() - started)
            self.d.api("DELETE", f"/containers/{cid}", force=1)
        return samples

    def api_create_start(self) -> list[float]:
        samples = []
        for _ in range(self.runs):
            started = time.perf_counter()
            cid = self.d.run(["sleep", "300"])
            samples.append(time.perf_counter() - started)
            self.d.api("DELETE", f"/containers/{cid}", force=1)
        return samples

    def ctr_run(self) -> list[float]:
        samples = []
        for i in range(self.runs):
            name = f"bench-ctr-{os.getpid()}-{i}"
            cmd = self.ctr + ["run", "-d", "--snapshotter", "overlayfs", IMAGE, name,
                              "sleep", "300"]  # fmt: skip
            started = time.perf_counter()
            run(cmd)
            samples.append(time.perf_counter() - started)
            run(self.ctr + ["task", "kill", "-s", "SIGKILL", name])
            for _ in range(50):
                if "STOPPED" in run(self.ctr + ["task", "ls"]) or name not in run(
                    self.ctr + ["task", "ls"]
                ):
                    break
                time.sleep(0.05)
            subprocess.run(self.ctr + ["task", "rm", "-f", name], capture_output=True)
            subprocess.run(self.ctr + ["container", "rm", name], capture_output=True)
        return samples

    def ps(self, argv: list[str], env: dict[str, str]) -> list[float]:
        run(argv, env)  # warm the page cache
        samples = []
        for _ in range(self.runs):
            started = time.perf_counter()
            run(argv, env)
            samples.append(time.perf_counter() - started)
        return samples


def report(rows: list[tuple[str, list[float], str, list[float]]]) -> None:
    print(f"{'what':34} {'median':>10} {'peer':24} {'median':>10} {'ratio':>7}")
    for name, ours, peer, theirs in rows:
        a, b = median_ms(ours), median_ms(theirs)
        print(f"{name:34} {a:8.1f}ms {peer:24} {b:8.1f}ms {a / b:6.2f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=10)
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="pouch-bench-"))
    daemon = Pouchd(tmp / "home", bridge="pbench0", bip="10.251.7.1/24")
    daemon.extra_args = ["--log-level", "info"]
    try:
        daemon.start()
        daemon.load_busybox()
        bench = Bench(daemon, args.runs)
        ctr = bench.ctr_run()
        rows = [
            ("pouch run -d", bench.pouch_run(), "ctr run -d", ctr),
            ("API create + start", bench.api_create_start(), "ctr run -d", ctr),
        ]
        docker = shutil.which("docker")
        pouch_ps = bench.ps([str(BIN / "pouch"), "ps"], bench.env)
        if docker:
            docker_env = {**os.environ, "DOCKER_HOST": daemon.host}
            rows.append(
                (
                    "pouch ps",
                    pouch_ps,
                    "docker ps",
                    bench.ps([docker, "ps"], docker_env),
                )
            )  # noqa: E501
        else:
            print(f"docker CLI not found; pouch ps median {median_ms(pouch_ps):.1f}ms")
        print(f"medians over {args.runs} runs each")
        report(rows)
    finally:
        daemon.remove_all()
        daemon.stop()
        daemon.remove_bridge()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
