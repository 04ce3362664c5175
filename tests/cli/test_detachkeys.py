"""Detach keys as docker spells them, read the same way by the CLI and the daemon."""

import pytest

from pouch.detachkeys import DetachKeysError, parse_detach_keys


def test_keys_become_the_bytes_a_terminal_sends() -> None:
    assert parse_detach_keys(None) == b"\x10\x11"  # ctrl-p, ctrl-q
    assert parse_detach_keys("") == b"\x10\x11"
    assert parse_detach_keys("a,ctrl-@,ctrl-[, ctrl-z") == b"a\x00\x1b\x1a"
    assert parse_detach_keys("CTRL-A") == b"\x01"


@pytest.mark.parametrize("spec", ["ctrl-", "ctrl-ab", "ab", "a,,b"])
def test_bad_specs_name_themselves(spec: str) -> None:
    with pytest.raises(DetachKeysError, match=rf"Invalid detach keys \({spec}\)"):
        parse_detach_keys(spec)


def test_a_control_key_outside_the_terminals_range_is_refused() -> None:
    with pytest.raises(DetachKeysError, match="bad key ctrl-~"):
        parse_detach_keys("ctrl-~")
