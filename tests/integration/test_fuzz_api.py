"""Property: no network create body and no ``filters`` value, however malformed, gets
a 5xx; a refused network create leaves no network and no bridge.

Every body that could be taken names a subnet inside 10.253.0.0/16 and a bridge whose
name starts with ``pf``, so that what the daemon makes cannot clash with the host's
interfaces and routes, and a leftover is easy to see. What a 201 made is removed."""

from __future__ import annotations

import json
import os
from typing import Any
from urllib.parse import urlencode

import pytest

from tests.support.daemon import Pouchd

hypothesis = pytest.importorskip("hypothesis")
st = pytest.importorskip("hypothesis.strategies")

from hypothesis import HealthCheck, event, given, settings  # noqa: E402

BRIDGE_OPTION = "com.docker.network.bridge.name"
MTU_OPTION = "com.docker.network.driver.mtu"

SCALARS = st.one_of(
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=12),
)
JSON = st.recursive(
    st.one_of(st.none(), SCALARS),
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(st.text(max_size=10), inner, max_size=4),
    ),
    max_leaves=10,
)
# Values of the wrong type. None of them may stand for "not set": a null, or no
# IPAM.Config, would let the daemon pick a subnet or a bridge name of its own.
NOT_A_DICT = st.one_of(SCALARS, st.lists(JSON, max_size=3))
NOT_A_LIST = st.one_of(SCALARS, st.dictionaries(st.text(max_size=5), JSON, max_size=2))
NOT_A_STRING = st.one_of(
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=False),
    st.lists(JSON, max_size=2),
    st.dictionaries(st.text(max_size=5), JSON, max_size=2),
)

ALIGNED = st.builds(
    "10.253.{}.0/{}".format, st.integers(0, 255), st.sampled_from([24, 30, 31, 32])
)
SUBNETS = st.one_of(
    ALIGNED,
    st.builds(
        "10.253.{}.{}/{}".format,
        st.integers(0, 255),
        st.sampled_from([0, 1, 128, 255]),
        st.integers(16, 33),
    ),
    st.sampled_from(
        ["10.253.0.0/15", "10.253.7.0", "10.253.7.0/24 ", "fd00::/64", "x", "/24"]
    ),
    NOT_A_STRING,
)
ADDRESSES = st.one_of(
    st.builds("10.253.{}.{}".format, st.integers(0, 255), st.integers(0, 256)),
    st.text(max_size=8),
    JSON,
)
POOL = st.one_of(
    st.fixed_dictionaries(
        {"Subnet": SUBNETS},
        optional={"Gateway": ADDRESSES, "IPRange": SUBNETS, "AuxiliaryAddresses": JSON},
    ),
    NOT_A_DICT,
)
IPAM = st.one_of(
    st.fixed_dictionaries(
        {"Config": st.one_of(st.lists(POOL, min_size=1, max_size=2), NOT_A_LIST)},
        optional={"Driver": st.one_of(st.sampled_from(["default", "x"]), JSON)},
    ),
    NOT_A_DICT,
)
GOOD_BRIDGES = st.from_regex(r"pf[a-z0-9]{1,6}", fullmatch=True)
BRIDGES = st.one_of(
    GOOD_BRIDGES,
    st.sampled_from(["pf:x", "pf x", "pf/x", "pf\tx", "pf" + "x" * 14, "pfé" * 5]),
    st.sampled_from([".", ".."]),
    NOT_A_STRING,
)
OPTIONS = st.one_of(
    st.fixed_dictionaries(
        {BRIDGE_OPTION: BRIDGES},
        optional={
            MTU_OPTION: st.one_of(st.sampled_from(["1400", "67", "65536", "²"]), JSON)
        },
    ),
    NOT_A_DICT,
)
# Bodies that are nearly right, so that some are taken and removed again.
NEARLY_RIGHT = st.fixed_dictionaries(
    {
        "Name": st.from_regex(r"pf[a-z0-9 ./_-]{1,8}", fullmatch=True),
        "IPAM": st.fixed_dictionaries(
            {"Config": st.lists(st.fixed_dictionaries({"Subnet": ALIGNED}), min_size=1)}
        ),
        "Options": st.fixed_dictionaries({BRIDGE_OPTION: GOOD_BRIDGES}),
    },
    optional={
        "Internal": st.booleans(),
        "Labels": st.dictionaries(st.text(), st.text()),
    },
)
NAMES = st.one_of(st.from_regex(r"pf[a-z0-9 ./_-]{1,8}", fullmatch=True), JSON)
BODY = st.one_of(
    NEARLY_RIGHT,
    st.fixed_dictionaries(
        {"Name": NAMES, "IPAM": IPAM, "Options": OPTIONS},
        optional={
            key: JSON
            for key in (
                "Driver",
                "Internal",
                "Labels",
                "EnableIPv6",
                "Attachable",
                "CheckDuplicate",
                "Ingress",
                "Scope",
            )
        },
    ),
    # Junk with no Name is refused before a subnet or bridge is chosen.
    JSON.filter(lambda body: not (isinstance(body, dict) and "Name" in body)),
)

FUZZ = settings(
    max_examples=200,
    deadline=None,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.filter_too_much,
    ],
)


def our_links() -> set[str]:
    return {name for name in os.listdir("/sys/class/net") if name.startswith("pf")}


def network_ids(daemon: Pouchd) -> set[str]:
    return {n["Id"] for n in daemon.api("GET", "/networks")}


@FUZZ
@given(body=BODY)
def test_fuzzed_network_create(daemon: Pouchd, body: Any) -> None:
    before, links = network_ids(daemon), our_links()
    raw = json.dumps(body).encode()
    status, content_type, data = daemon.send("POST", "/networks/create", raw)
    event(f"status {status}")
    assert status < 500, (status, data, raw)
    if status == 201:
        _check_and_remove(daemon, json.loads(data)["Id"])
    else:
        assert 400 <= status < 500
        assert content_type == "application/json"
        assert json.loads(data)["message"]
    assert network_ids(daemon) == before, "a refused create left a network"
    assert our_links() == links, "a refused create left a bridge"


def _check_and_remove(daemon: Pouchd, nid: str) -> None:
    doc = daemon.api("GET", f"/networks/{nid}")
    bridge = doc["Options"][BRIDGE_OPTION]
    try:
        assert os.path.exists(f"/sys/class/net/{bridge}")
    finally:
        daemon.api("DELETE", f"/networks/{nid}")
    assert not os.path.exists(f"/sys/class/net/{bridge}")
    assert bridge.startswith("pf"), doc
    assert doc["IPAM"]["Config"][0]["Subnet"].startswith("10.253."), doc


FILTER_KEYS = ["type", "status", "label", "name", "id", "reference", "dangling",
               "driver", "event", "since", "before", "until", "ancestor"]  # fmt: skip
FILTERS = st.one_of(
    st.dictionaries(st.sampled_from(FILTER_KEYS), JSON, max_size=3).map(json.dumps),
    JSON.map(json.dumps),
    st.text(max_size=20),
)
# Routes that only read; the prune routes take filters too, but would remove things.
LISTS = ["/events", "/containers/json", "/images/json", "/networks", "/volumes"]


@FUZZ
@given(path=st.sampled_from(LISTS), value=FILTERS, since=st.text(max_size=8))
def test_fuzzed_filters(daemon: Pouchd, path: str, value: str, since: str) -> None:
    query = {"filters": value}
    if path == "/events":
        query.update(since=since, until="1")  # a past end: the stream closes
    status, content_type, data = daemon.send("GET", f"{path}?{urlencode(query)}")
    event(f"status {status}")
    assert status < 500, (status, data, query)
    if status >= 400:
        assert content_type == "application/json"
        assert json.loads(data)["message"]


def test_daemon_still_answers(daemon: Pouchd) -> None:
    assert daemon.api("GET", "/version")["ApiVersion"] == "1.43"
    assert daemon.proc is not None and daemon.proc.poll() is None
