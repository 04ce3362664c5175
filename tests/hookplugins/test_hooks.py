"""Hook entries of every form and stage, their order per stage, and hook files."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from pouch.hookplugins import Hook, by_stage, order_hooks
from pouch.hookplugins.hooksd import HookFileError, load_dirs
from pouch.hookplugins.results import StageUnsupported, as_hook, as_hooks

OLD_RUNC = ("prestart", "poststart", "poststop")


def test_a_mapping_hook_carries_env_timeout_and_stage() -> None:
    hook = as_hook(3, {"path": "/bin/x", "args": ["x", "-v"], "env": ["A=1"],
                       "timeout": 5, "stage": "poststop"})  # fmt: skip
    assert hook == Hook("/bin/x", ["x", "-v"], 3, ["A=1"], 5, "poststop")
    assert hook.to_oci() == {"path": "/bin/x", "args": ["x", "-v"], "env": ["A=1"],
                             "timeout": 5}  # fmt: skip


def test_a_mapping_hook_without_env_gets_an_empty_one() -> None:
    assert as_hook(0, {"path": "/bin/x"}).to_oci() == {
        "path": "/bin/x", "args": ["/bin/x"], "env": []}  # fmt: skip


def test_the_list_form_keeps_its_spec_shape() -> None:
    hook = as_hook(-4, ["/usr/bin/touch", "touch", "/tmp/x"])
    assert hook.to_oci() == {"path": "/usr/bin/touch", "args": ["touch", "/tmp/x"]}


@pytest.mark.parametrize(
    "entry, message",
    [
        ({"path": "bin/x"}, "must be absolute"),
        ({"path": "/x", "stage": "prestop"}, "unknown stage 'prestop'"),
        ({"path": "/x", "env": ["A"]}, "NAME=value"),
        ({"path": "/x", "timeout": 0}, "positive int"),
        ({"path": "/x", "when": 1}, "unknown keys"),
        ({"path": "/x", "args": "x"}, "list of strings"),
    ],
)
def test_bad_mapping_hooks(entry: dict[str, Any], message: str) -> None:
    with pytest.raises((TypeError, ValueError), match=message):
        as_hook(0, entry)


def test_a_stage_the_runtime_lacks_is_refused_with_the_stages_it_has() -> None:
    with pytest.raises(StageUnsupported) as caught:
        as_hooks(([0], [{"path": "/x", "stage": "createRuntime"}]), OLD_RUNC)
    assert str(caught.value) == (
        "hook /x: stage 'createRuntime' is not supported by the installed runc "
        "(it runs prestart, poststart, poststop)"
    )


def test_the_order_rule_applies_within_each_stage() -> None:
    network = Hook("/pouchd", ["pouchd", "libnetwork-setkey"])
    plugin = [
        Hook("/a", ["a"], 1, stage="poststop"),
        Hook("/b", ["b"], 2),
        Hook("/c", ["c"], 5, stage="poststop"),
        Hook("/d", ["d"], -1),
    ]
    section = by_stage(order_hooks([network], plugin))
    assert [h["path"] for h in section["prestart"]] == ["/b", "/pouchd", "/d"]
    assert [h["path"] for h in section["poststop"]] == ["/c", "/a"]


def hook_file(directory: Path, name: str, **doc: Any) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    base = {"version": "1.0.0", "hook": {"path": "/bin/" + name},
            "when": {"always": True}, "stages": ["prestart"]}  # fmt: skip
    (directory / f"{name}.json").write_text(json.dumps({**base, **doc}))


def test_hook_files_by_name_masked_by_earlier_dirs_with_conditions(
    tmp_path: Path,
) -> None:  # noqa: E501
    first, second = tmp_path / "etc", tmp_path / "usr"
    hook_file(second, "b")
    hook_file(first, "a", when={"annotations": {"^gpu$": "^yes$"}})
    hook_file(second, "a", hook={"path": "/bin/masked"})
    hook_file(first, "c", when={"commands": ["/sh$"], "hasBindMounts": True},
              stages=["prestart", "poststop"],
              annotations={"io.pouch.hook.priority": "7"})  # fmt: skip
    hooks = load_dirs([first, second])
    assert [f.path.name for f in hooks.files] == ["a.json", "b.json", "c.json"]

    paths = [h.path for h in hooks.matching({"gpu": "yes"}, "/bin/sh", True)]
    assert paths == ["/bin/a", "/bin/b", "/bin/c", "/bin/c"]
    assert [h.path for h in hooks.matching({"gpu": "no"}, "/bin/sh", False)] == [
        "/bin/b"
    ]
    assert [h.path for h in hooks.matching({}, "/bin/bash", True)] == ["/bin/b"]
    c_hooks = hooks.matching({}, "/bin/sh", True)[1:]
    assert [(h.stage, h.priority, h.env) for h in c_hooks] == [
        ("prestart", 7, []), ("poststop", 7, [])]  # fmt: skip
    assert hooks.matching({}, "x", False)[0].priority == -1


@pytest.mark.parametrize(
    "doc, message",
    [
        ({"version": "0.1.0"}, "only 1.0.0"),
        ({"when": {}}, "at least one of"),
        ({"when": {"always": "yes"}}, "true or false"),
        ({"when": {"annotations": {"(": "x"}}}, "missing"),
        ({"stages": []}, "at least one stage"),
        ({"stages": ["prestop"]}, "unknown stage"),
        ({"hook": {"path": "rel"}}, "absolute"),
        ({"annotations": {"io.pouch.hook.priority": "high"}}, "must be an integer"),
    ],
)
def test_broken_hook_files_name_the_file(
    tmp_path: Path, doc: dict[str, Any], message: str
) -> None:  # noqa: E501
    hook_file(tmp_path, "bad", **doc)
    with pytest.raises(HookFileError, match=message) as caught:
        load_dirs([tmp_path])
    assert str(tmp_path / "bad.json") in str(caught.value)


def test_a_hook_file_with_a_stage_the_runtime_lacks(tmp_path: Path) -> None:
    hook_file(tmp_path, "x", stages=["createContainer"])
    with pytest.raises(HookFileError, match="not supported by the installed runc"):
        load_dirs([tmp_path], OLD_RUNC)


def test_conditions_set_to_false_never_hold(tmp_path: Path) -> None:
    hook_file(tmp_path, "a", when={"hasBindMounts": False})
    hook_file(tmp_path, "b", when={"always": False})
    hooks = load_dirs([tmp_path])
    assert hooks.matching({}, "/bin/sh", False) == []
    assert hooks.matching({}, "/bin/sh", True) == []
