"""Property: no create body, however malformed, gets a 5xx or takes the daemon down.
Bad input gets a 4xx with a message; good input a container, removed again."""

from __future__ import annotations

import http.client
import json
import socket
from typing import Any

import pytest

from tests.support.daemon import Pouchd

hypothesis = pytest.importorskip("hypothesis")
st = pytest.importorskip("hypothesis.strategies")

from hypothesis import HealthCheck, given, settings  # noqa: E402

SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=20),
)
JSON = st.recursive(
    SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(st.text(max_size=10), inner, max_size=4),
    ),
    max_leaves=12,
)
CONFIG_KEYS = [
    "Image", "Cmd", "Entrypoint", "Env", "Tty", "OpenStdin", "StdinOnce",
    "WorkingDir", "User", "Labels", "StopSignal", "StopTimeout", "Hostname",
    "ExposedPorts", "AttachStdin", "Healthcheck", "NetworkingConfig",
]  # fmt: skip
HOST_KEYS = [
    "Binds", "NetworkMode", "Memory", "MemorySwap", "CpuShares", "CpuQuota",
    "CpuPeriod", "PidsLimit", "Privileged", "CapAdd", "CapDrop", "ReadonlyRootfs",
    "AutoRemove", "RestartPolicy", "LogConfig", "PortBindings", "Ulimits", "Tmpfs",
    "ShmSize", "Devices", "SecurityOpt", "NanoCpus", "CpusetCpus", "Init",
    "GroupAdd", "OomKillDisable",
]  # fmt: skip
HOST_CONFIG = st.fixed_dictionaries({}, optional={k: JSON for k in HOST_KEYS})
BODY = st.one_of(
    JSON,
    st.fixed_dictionaries(
        {"Image": st.sampled_from(["busybox", "", "no/such:image", "busybox:latest"])},
        optional={
            **{k: JSON for k in CONFIG_KEYS if k != "Image"},
            "HostConfig": st.one_of(HOST_CONFIG, JSON),
        },
    ),
)


def _post(daemon: Pouchd, raw: bytes) -> tuple[int, bytes, str]:
    conn = http.client.HTTPConnection("localhost", timeout=60)
    sock = socket.socket(socket.AF_UNIX)
    sock.connect(str(daemon.socket))
    conn.sock = sock
    conn.request("POST", "/v1.43/containers/create", raw,
                 {"Content-Type": "application/json"})  # fmt: skip
    response = conn.getresponse()
    body = response.read()
    conn.close()
    return response.status, body, response.getheader("Content-Type") or ""


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(body=BODY)
def test_fuzzed_create_bodies(daemon: Pouchd, body: Any) -> None:
    raw = json.dumps(body).encode()
    before = _volumes(daemon)
    status, data, content_type = _post(daemon, raw)
    assert status < 500, (status, data, raw)
    if status == 201:
        daemon.api("DELETE", f"/containers/{json.loads(data)['Id']}", force=1, v=1)
        for name in _volumes(daemon) - before:  # named volumes outlive containers
            daemon.api("DELETE", f"/volumes/{name}")
        return
    assert 400 <= status < 500
    assert content_type == "application/json"
    assert json.loads(data)["message"]
    assert _volumes(daemon) == before, "a refused create left a volume"


def _volumes(daemon: Pouchd) -> set[str]:
    return {v["Name"] for v in daemon.api("GET", "/volumes")["Volumes"] or []}


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])  # fmt: skip
@given(raw=st.binary(max_size=64))
def test_fuzzed_bytes(daemon: Pouchd, raw: bytes) -> None:
    status, data, _ = _post(daemon, raw)
    assert status < 500, (status, data, raw)
    if status == 201:
        daemon.api("DELETE", f"/containers/{json.loads(data)['Id']}", force=1)


def test_daemon_still_answers(daemon: Pouchd) -> None:
    assert daemon.api("GET", "/version")["ApiVersion"] == "1.43"
    assert daemon.proc is not None and daemon.proc.poll() is None
