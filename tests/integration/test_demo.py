"""``make demo``'s script, run as a user runs it: what it shows, and that it leaves
nothing behind."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

from tests.support.daemon import ROOT


def test_the_demo_shows_every_point_and_cleans_up() -> None:
    before = set(Path("/tmp").glob("pouch-demo.*"))
    done = subprocess.run(["bash", str(ROOT / "scripts" / "demo.sh")],
                          capture_output=True, text=True, timeout=300)  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    out = done.stdout
    for line in (
        "pre-start hook in daemon is called",
        "pre create method called",
        "pre create endpoint",
        "pre start method called",
        "pre-stop hook in daemon is called",
    ):
        assert line in out, out
    # The prestart list, as the demo prints it from config.json: the network hook,
    # then the plugin's touch (priority -4).
    listed = re.search(r"config\.json\x1b\[0m\n(\[.*?\n\])", out, re.S)
    assert listed, out
    prestart = json.loads(listed.group(1))
    assert [h["args"][:2] for h in prestart] == [
        ["pouchd", "libnetwork-setkey"], ["touch", "/tmp/pre_start_hook"]]  # fmt: skip
    assert re.search(r"^-\S+ .* /tmp/pre_start_hook$", out, re.M), out
    # Cleaned up: its work dir, the touched file, its bridge and rules.
    assert set(Path("/tmp").glob("pouch-demo.*")) == before
    assert not Path("/tmp/pre_start_hook").exists()
    assert not Path("/sys/class/net/pdemo0").exists()
    rules = subprocess.run(["iptables-save"], capture_output=True, text=True).stdout
    assert "pdemo0" not in rules and "10.250.99." not in rules
