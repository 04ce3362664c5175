"""Request bodies: decoding with its limits, models with their messages, and null as
"not set"."""

from __future__ import annotations

import json

import pytest

from pouch.errors import InvalidParameter
from pouch.types import (
    MAX_DEPTH,
    CreateRequest,
    NetworkCreateRequest,
    decode_object,
    parse_model,
)


def nested(levels: int) -> bytes:
    """An object whose arrays make it ``levels`` deep in all."""
    inner = levels - 1
    return b'{"X": ' + b"[" * inner + b"]" * inner + b"}"


def test_depth_up_to_the_limit_is_taken() -> None:
    assert decode_object(nested(MAX_DEPTH), "body")["X"]


@pytest.mark.parametrize("levels", [MAX_DEPTH + 1, 5_000, 200_000])
def test_deeper_bodies_are_refused(levels: int) -> None:
    with pytest.raises(InvalidParameter) as refused:
        decode_object(nested(levels), "create request")
    assert str(refused.value) == (
        "create request is nested too deeply: at most 100 levels of objects and arrays"
    )


def test_numbers_beyond_int64_are_refused_with_their_place() -> None:
    body = json.dumps({"HostConfig": {"Ulimits": [{"Soft": 2**63}]}}).encode()
    with pytest.raises(InvalidParameter) as refused:
        decode_object(body, "create request")
    assert str(refused.value) == (
        "invalid create request: HostConfig.Ulimits.0.Soft: 9223372036854775808 is "
        "out of the int64 range"
    )
    assert decode_object(json.dumps({"X": -(2**63)}).encode(), "body")


@pytest.mark.parametrize(
    "raw, message",
    [
        (b"[1]", "body must be a JSON object"),
        (b"{", "invalid JSON in body"),
        (b"", None),
    ],
)
def test_not_an_object(raw: bytes, message: str | None) -> None:
    if message is None:
        assert decode_object(raw, "body") == {}
        return
    with pytest.raises(InvalidParameter, match=message):
        decode_object(raw, "body")


def test_messages_name_the_field_the_rule_and_the_value() -> None:
    cases = {
        "IPAM": ("x", "IPAM: must be a JSON object, not 'x'"),
        "Internal": ("yes", "Internal: must be a boolean (true or false), not 'yes'"),
        "Options": ({"a": 5}, "Options.a: must be a string, not 5"),
        "Labels": ([], "Labels: must be a JSON object, not []"),
    }
    for field, (value, message) in cases.items():
        with pytest.raises(InvalidParameter) as refused:
            parse_model(NetworkCreateRequest, {field: value}, "network create request")
        assert str(refused.value) == f"invalid network create request: {message}"


def test_null_is_not_set() -> None:
    request = parse_model(
        CreateRequest,
        {"HostConfig": {"RestartPolicy": None, "LogConfig": None, "Memory": None},
         "Tty": None, "Custom": None},
        "create request",
    )  # fmt: skip
    assert request.HostConfig.RestartPolicy.Name == ""
    assert request.HostConfig.LogConfig.Type == "json-file"
    assert (request.HostConfig.Memory, request.Tty) == (0, False)
    # What the API does not know is kept as the client sent it.
    assert request.model_dump()["Custom"] is None
    assert parse_model(CreateRequest, {"HostConfig": None}, "x").HostConfig.Memory == 0
