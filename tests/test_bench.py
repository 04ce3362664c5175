"""The benchmark scripts run end to end and print their tables. Nothing is timed
here: the numbers are for reading, on a quiet machine, with the default sizes."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.support.daemon import ROOT

RUNS = [
    (["run.py", "--runs", "2"], ["pouch run -d", "API create + start", "pouch ps"]),
    (["network.py", "--runs", "2"], ["none", "default bridge", "user network + -p"]),
    (["plugins.py", "--calls", "10"], ["pre_create_endpoint", "in-process"]),
    (
        ["pull.py", "--runs", "1", "--layers", "2", "--layer-mb", "1"],
        ["pouch pull", "skopeo copy", "ratio pouch/skopeo"],
    ),
]


@pytest.mark.parametrize(("argv", "rows"), RUNS, ids=[r[0][0] for r in RUNS])
def test_benchmark_prints_its_table(argv: list[str], rows: list[str]) -> None:
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / argv[0]), *argv[1:]],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    for row in rows:
        assert row in done.stdout, done.stdout
