"""Plugin specs and config entries: timeouts and policies per plugin and point."""

from __future__ import annotations

import pytest

from pouch.hookplugins.settings import (
    Policy,
    SettingsError,
    from_config,
    parse_spec,
)


def test_a_spec_sets_plugin_wide_and_per_point_values() -> None:
    settings = parse_spec("/p.py,timeout=2.5,policy=ignore,timeout.pre_start=1,"
                          "policy.pre_create=fail")  # fmt: skip
    assert settings.path == "/p.py"
    assert settings.timeout_for("pre_create") == 2.5
    assert settings.timeout_for("pre_start") == 1.0
    assert settings.policy_for("pre_start") is Policy.IGNORE
    assert settings.policy_for("pre_create") is Policy.FAIL


def test_a_bare_path_keeps_the_defaults() -> None:
    settings = parse_spec("mycompany.rules")
    assert settings.timeout_for("pre_create") == 10.0
    assert settings.policy_for("pre_create_endpoint") is Policy.IGNORE


def test_a_config_object_is_the_same_as_a_spec() -> None:
    entry = {"path": "unix:///run/p.sock", "timeout": 3, "policy": "fail",
             "points": {"pre_stop_hook": {"timeout": 1}}}  # fmt: skip
    settings = from_config(entry)
    assert settings.timeout_for("pre_stop_hook") == 1.0
    assert settings.timeout_for("pre_start") == 3.0
    assert settings.policy_for("pre_stop_hook") is Policy.FAIL


@pytest.mark.parametrize(
    "spec, message",
    [
        ("/p.py,policy=maybe", "policy 'maybe' must be fail or ignore"),
        ("/p.py,timeout=0", "timeout '0' must be a positive number"),
        ("/p.py,timeout=soon", "timeout 'soon' must be a positive number"),
        ("/p.py,retries=3", "unknown option 'retries'"),
        ("/p.py,timeout.pre_run=1", "unknown point 'pre_run'"),
        ("/p.py,fast", "must be key=value"),
        (",timeout=1", "no path"),
    ],
)
def test_bad_specs_name_the_plugin_and_rule(spec: str, message: str) -> None:
    with pytest.raises(SettingsError, match=message):
        parse_spec(spec)


def test_bad_config_entries() -> None:
    with pytest.raises(SettingsError, match="must be a string or an object"):
        from_config(42)
    with pytest.raises(SettingsError, match="unknown keys"):
        from_config({"path": "/p.py", "retry": 1})
