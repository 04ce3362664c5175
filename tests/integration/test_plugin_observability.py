"""What the daemon tells about its plugins: /plugins, ``pouch plugin ls``, /metrics."""

from __future__ import annotations

import os
import subprocess

from tests.support.daemon import BIN, ROOT, Pouchd

EXAMPLE = str(ROOT / "examples" / "hook_plugin.py")


def test_plugins_listing_cli_and_metrics(fresh_daemon) -> None:  # type: ignore[no-untyped-def]  # noqa: E501
    d: Pouchd = fresh_daemon(plugins=[f"{EXAMPLE},timeout=3,policy.pre_start=ignore"])
    d.start()
    d.load_busybox()
    cid = d.run(["true"])
    d.wait(cid)

    [plugin] = d.api("GET", "/plugins")
    assert plugin["Name"] == EXAMPLE and plugin["Kind"] == "python"
    assert plugin["Settings"]["pre_start"] == {"Policy": "ignore", "Timeout": 3.0}
    assert plugin["Settings"]["pre_create"] == {"Policy": "fail", "Timeout": 3.0}
    assert plugin["Settings"]["pre_stop_hook"]["Policy"] == "ignore"
    # pre_start_hook, pre_create, pre_create_endpoint, pre_start
    assert (plugin["Calls"], plugin["Errors"], plugin["LastError"]) == (4, 0, "")

    env = {**os.environ, "POUCH_HOST": d.host}
    out = subprocess.run([str(BIN / "pouch"), "plugin", "ls"], env=env,
                         capture_output=True, text=True, check=True).stdout  # fmt: skip
    header, row = out.splitlines()
    assert header.split()[:4] == ["NAME", "KIND", "POINTS", "POLICY"]
    assert row.startswith(EXAMPLE) and " python " in row
    assert "pre_start=ignore" in row and " 3s " in row

    metrics = d.client.request("GET", "/metrics").read().decode()
    assert (
        f'pouch_plugin_call_seconds_count{{plugin="{EXAMPLE}",point="pre_create"}} 1.0'
        in metrics
    )
    assert (
        'pouch_api_requests_total{method="POST",route="/containers/create"' in metrics
    )
    d.api("DELETE", f"/containers/{cid}")
