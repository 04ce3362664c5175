"""Embedded name resolution comes back after a restart of pouchd, however it ended."""

import pytest

from tests.integration.test_networks import make_network, on_networks
from tests.support.daemon import Pouchd


def exec_out(d: Pouchd, cid: str, cmd: list[str]) -> tuple[int, bytes]:
    from pouch.client.streams import demux

    body = {"Cmd": cmd, "AttachStdout": True, "AttachStderr": True}
    eid = d.api("POST", f"/containers/{cid}/exec", body)["Id"]
    stream = d.client.request("POST", f"/exec/{eid}/start", None, {"Detach": False})
    out = b"".join(data for _, data in demux(stream.chunks()))
    return d.api("GET", f"/exec/{eid}/json")["ExitCode"], out


@pytest.mark.parametrize("how", ["sigterm", "sigkill"])
def test_names_resolve_after_restart_for_a_connected_container(
    fresh_daemon, how: str
) -> None:  # type: ignore[no-untyped-def]  # noqa: E501
    d: Pouchd = fresh_daemon().start()
    d.load_busybox()
    make_network(d, "dnsr", 9)
    try:
        n1 = d.run(["sleep", "300"], name="n1", **on_networks("dnsr"))
        n2 = d.run(["sleep", "300"], name="n2")
        d.api("POST", "/networks/dnsr/connect", {"Container": n2})
        assert exec_out(d, n2, ["nslookup", "n1"])[0] == 0
        if how == "sigterm":
            assert d.stop() == 0
        else:
            assert d.proc is not None
            d.proc.kill()
            d.proc.wait()
            d.proc = None
        d.start()
        code, out = exec_out(d, n2, ["nslookup", "n1"])
        assert code == 0, out
        code, out = exec_out(d, n1, ["nslookup", "n2"])
        assert code == 0, out
    finally:
        d.remove_all()
        d.api("DELETE", "/networks/dnsr")
