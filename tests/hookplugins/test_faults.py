"""The fault matrix on the plugin manager: each point, each fault, each policy, for
an in-process plugin and for a real plugin process.

The documented results (docs/plugins.md, "Timeouts and failure policies"): under
``fail`` every fault is a PluginError naming the plugin and point (at pre_stop_hook,
a failure reported after every plugin ran); under ``ignore`` the point goes on as if
the plugin had not been there. A hang is cut at the timeout and the next call is
made as usual.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pouch.errors import PluginError
from pouch.hookplugins import PluginManager, load_plugin
from pouch.hookplugins.assemble import PluginConfig, assemble
from pouch.hookplugins.settings import PluginSettings, Policy, parse_spec
from tests.support.daemon import ROOT

SOURCE = ROOT / "tests" / "support" / "fault_plugin.py"
TIMEOUT = 0.5
FAULTS = ["raise", "hang", "wrong"]
POINTS = ["pre_start_hook", "pre_stop_hook", "pre_create", "pre_start",
          "pre_create_endpoint"]  # fmt: skip
WRONG_IS_IGNORED = {"pre_start_hook", "pre_stop_hook"}  # in-process results unused


class Case:
    """One plugin copy with its fault file."""

    def __init__(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.dir = directory
        self.path = directory / "fault_plugin.py"
        shutil.copy(SOURCE, self.path)
        self.proc: subprocess.Popen[bytes] | None = None

    def fault(self, point: str, kind: str) -> None:
        (self.dir / "faults.json").write_text(json.dumps({point: kind}))

    def serve(self) -> str:
        sock = self.dir / "plugin.sock"
        sock.unlink(missing_ok=True)  # a crashed process leaves its socket file
        self.proc = subprocess.Popen([sys.executable, str(self.path), str(sock)])
        deadline = time.monotonic() + 10
        while not sock.exists():
            assert time.monotonic() < deadline
            time.sleep(0.02)
        return str(sock)

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(10)


@pytest.fixture
def case(tmp_path: Path) -> Iterator[Case]:
    made = Case(tmp_path / "plugin")
    yield made
    made.stop()


async def manager_for(case: Case, kind: str, policy: Policy) -> PluginManager:
    spec = f"{case.path},timeout={TIMEOUT},policy={policy}"
    if kind == "process":
        spec = f"{case.serve()},timeout={TIMEOUT},policy={policy}"
        made = await assemble(PluginConfig(plugins=[parse_spec(spec)]))
        return PluginManager(made.plugins)
    return PluginManager([load_plugin(parse_spec(spec))])


async def call(manager: PluginManager, point: str) -> Any:
    if point == "pre_create":
        return await manager.pre_create(b'{"Image": "busybox"}')
    if point == "pre_start":
        return await manager.pre_start({"Id": "c1"})
    if point == "pre_create_endpoint":
        return await manager.pre_create_endpoint("c1", ["A=1"])
    return await getattr(manager, point)()


def skipped(point: str, result: Any) -> bool:
    """The result the point gives when the plugin's contribution is skipped."""
    if point == "pre_create":
        return bool(result == b'{"Image": "busybox"}')
    if point == "pre_start":
        return bool(result == [])
    if point == "pre_create_endpoint":
        return (result.priority, result.generic_params) == (0, {})
    if point == "pre_stop_hook":
        return bool(result == [])
    return result is None


def run_matrix(case: Case, kind: str, policy: Policy, faults: list[str]) -> None:
    async def main() -> None:
        manager = await manager_for(case, kind, policy)
        plugin = manager.plugins[0]
        for point in POINTS:
            for fault in faults:
                if kind == "process" and fault == "crash" and case.proc is not None:
                    if case.proc.poll() is not None:
                        case.serve()
                case.fault(point, fault)
                expect_error = not (kind == "python" and fault == "wrong"
                                    and point in WRONG_IS_IGNORED)  # fmt: skip
                await check(manager, point, fault, policy, expect_error)
                case.fault(point, "")
                if kind == "process" and fault == "crash":
                    case.serve()  # the crashed process is started again
                # The plugin is still there and works at its next call.
                assert plugin in manager.plugins
                assert not skipped(point, await call(manager, point)) or point in (
                    "pre_start_hook", "pre_stop_hook")  # fmt: skip
        await plugin.close()

    asyncio.run(main())


async def check(
    manager: PluginManager, point: str, fault: str, policy: Policy, error: bool
) -> None:
    where = f"{point} / {fault} / {policy}"
    if not error:
        assert skipped(point, await call(manager, point)), where
        return
    if point == "pre_stop_hook":
        failures = await call(manager, point)
        assert bool(failures) == (policy is Policy.FAIL), where
        return
    if policy is Policy.FAIL:
        with pytest.raises(PluginError, match=f"failed at {point}"):
            await call(manager, point)
    else:
        assert skipped(point, await call(manager, point)), where


@pytest.mark.parametrize("policy", list(Policy))
def test_in_process_faults(case: Case, policy: Policy) -> None:
    run_matrix(case, "python", policy, FAULTS)


@pytest.mark.parametrize("policy", list(Policy))
def test_process_faults(case: Case, policy: Policy) -> None:
    run_matrix(case, "process", policy, FAULTS + ["crash"])


def test_a_timeout_names_the_plugin_point_and_limit(case: Case) -> None:
    async def main() -> None:
        manager = await manager_for(case, "python", Policy.FAIL)
        case.fault("pre_create", "hang")
        started = time.monotonic()
        with pytest.raises(PluginError) as caught:
            await manager.pre_create(b"{}")
        assert time.monotonic() - started < TIMEOUT + 0.5
        assert f"{case.path} failed at pre_create" in str(caught.value)
        assert f"no answer within {TIMEOUT:g} s" in str(caught.value)
        details = manager.details()[0]
        assert details["ByPoint"]["pre_create"]["Errors"] == 1
        assert "no answer within" in details["LastError"]

    asyncio.run(main())


def test_default_policies_are_the_first_contract() -> None:
    settings = PluginSettings(path="/x.py")
    assert {p: str(settings.policy_for(p)) for p in POINTS} == {
        "pre_start_hook": "fail",
        "pre_stop_hook": "ignore",
        "pre_create": "fail",
        "pre_start": "fail",
        "pre_create_endpoint": "ignore",
    }
    assert settings.timeout_for("pre_start") == 10.0
