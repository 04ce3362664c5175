"""SIGHUP on a real daemon: the config file, plugins and hook files read again,
running containers untouched, a broken configuration refused whole."""

from __future__ import annotations

import json
import signal
import textwrap
import time
from pathlib import Path

from tests.support.daemon import Pouchd

LABEL_PLUGIN = """
    import json

    class ContainerPlugin:
        def pre_create(self, body):
            request = json.load(body)
            request["Labels"] = {"reloaded-plugin": "yes"}
            return json.dumps(request).encode()
"""


def reload(d: Pouchd, config: Path, content: object) -> None:
    """Writes the config file, sends SIGHUP and waits for the daemon's verdict."""
    before = d.log().count("reloaded:") + d.log().count("reload refused")
    config.write_text(content if isinstance(content, str) else json.dumps(content))
    assert d.proc is not None
    d.proc.send_signal(signal.SIGHUP)
    deadline = time.monotonic() + 20
    while d.log().count("reloaded:") + d.log().count("reload refused") == before:
        assert time.monotonic() < deadline, d.log()[-2000:]
        time.sleep(0.05)


def labels(d: Pouchd, cid: str) -> dict[str, str]:
    return dict(d.inspect(cid)["Config"]["Labels"] or {})


def test_sighup_adds_a_plugin_and_refuses_a_broken_config(
    fresh_daemon, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]  # noqa: E501
    plugin = tmp_path / "label.py"
    plugin.write_text(textwrap.dedent(LABEL_PLUGIN))
    config = tmp_path / "config.json"
    config.write_text("{}")
    d: Pouchd = fresh_daemon(extra_args=["--config-file", str(config)]).start()
    d.load_busybox()
    running = d.run(["sleep", "300"])
    pid = d.inspect(running)["State"]["Pid"]
    assert "reloaded-plugin" not in labels(d, running)

    reload(d, config, {"plugins": [f"{plugin},timeout=5"]})
    assert "reloaded: plugins" in d.log()
    after = d.create(["true"])
    assert labels(d, after) == {"reloaded-plugin": "yes"}
    assert d.inspect(running)["State"]["Pid"] == pid  # untouched
    [listed] = d.api("GET", "/plugins")
    assert (listed["Name"], listed["Settings"]["pre_create"]["Timeout"]) == (
        str(plugin), 5.0)  # fmt: skip

    for broken in (
        {"plugins": [f"{plugin},timeout=7", str(tmp_path / "missing.py")]},
        "{not json",
        {"plugins": [f"{plugin},policy=sometimes"]},
    ):
        reload(d, config, broken)
        assert d.log().count("reload refused") >= 1
        still = d.create(["true"])
        assert labels(d, still) == {"reloaded-plugin": "yes"}
        d.api("DELETE", f"/containers/{still}")
    assert "missing.py: no such file" in d.log()
    [listed] = d.api("GET", "/plugins")  # its settings did not change either
    assert listed["Settings"]["pre_create"]["Timeout"] == 5.0

    d.hooks_dir.mkdir(exist_ok=True)
    (d.hooks_dir / "bad.json").write_text('{"version": "1.0.0"}')
    reload(d, config, {"plugins": []})
    assert "hook file" in d.log() and "bad.json" in d.log()
    assert [p["Name"] for p in d.api("GET", "/plugins")] == [str(plugin)]

    (d.hooks_dir / "bad.json").unlink()
    good = {"version": "1.0.0", "hook": {"path": "/bin/true"},
            "when": {"always": True}, "stages": ["poststart"]}  # fmt: skip
    (d.hooks_dir / "good.json").write_text(json.dumps(good))
    reload(d, config, {"plugins": []})
    assert d.api("GET", "/plugins") == []
    hooked = d.run(["sleep", "300"])
    poststart = d.config_json(hooked)["hooks"]["poststart"]
    assert poststart == [{"path": "/bin/true", "args": ["/bin/true"], "env": []}]
    assert "poststart" not in d.config_json(running)["hooks"]
    d.api("DELETE", f"/containers/{hooked}", force=1)
    for cid in (running, after):
        d.api("DELETE", f"/containers/{cid}", force=1)
