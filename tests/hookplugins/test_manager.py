import asyncio
import io
import logging
import textwrap
from pathlib import Path

import pytest

from pouch.errors import PluginError
from pouch.hookplugins import PluginLoadError, PluginManager, load_plugin


def write_plugin(tmp_path: Path, source: str, name: str = "plug.py") -> str:
    path = tmp_path / name
    path.write_text(textwrap.dedent(source))
    return str(path)


def run(coro):  # type: ignore[no-untyped-def]
    return asyncio.run(coro)


def test_load_finds_both_objects_and_their_points(tmp_path: Path) -> None:
    plugin = load_plugin(
        write_plugin(
            tmp_path,
            """
            class DaemonPlugin:
                def pre_start_hook(self): pass
            class ContainerPlugin:
                async def pre_create(self, body): return body
            """,
        )
    )
    assert plugin.points == ["pre_start_hook", "pre_create"]


def test_load_errors_name_the_plugin(tmp_path: Path) -> None:
    with pytest.raises(PluginLoadError, match="nope.py: no such file"):
        load_plugin(str(tmp_path / "nope.py"))
    empty = write_plugin(tmp_path, "X = 1\n")
    with pytest.raises(PluginLoadError, match="neither DaemonPlugin nor"):
        load_plugin(empty)
    broken = write_plugin(tmp_path, "import no_such_module_here\n", "broken.py")
    with pytest.raises(PluginLoadError, match="broken.py: cannot be imported"):
        load_plugin(broken)
    with pytest.raises(PluginLoadError, match="no_such_module_xyz"):
        load_plugin("no_such_module_xyz")


def test_module_name_loading(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write_plugin(tmp_path, "class ContainerPlugin:\n    pass\n", "mymod_plugin.py")
    monkeypatch.syspath_prepend(str(tmp_path))
    assert load_plugin("mymod_plugin").points == []


def test_pre_create_chains_plugins_in_order(tmp_path: Path) -> None:
    first = write_plugin(
        tmp_path,
        """
        class ContainerPlugin:
            def pre_create(self, body):
                return body.read() + b"1"
        """,
        "first.py",
    )
    second = write_plugin(
        tmp_path,
        """
        import io
        class ContainerPlugin:
            async def pre_create(self, body):
                return io.BytesIO(body.read() + b"2")
        """,
        "second.py",
    )
    manager = PluginManager([load_plugin(first), load_plugin(second)])
    assert run(manager.pre_create(b"x")) == b"x12"


def test_pre_create_failure_names_plugin_and_point(tmp_path: Path) -> None:
    path = write_plugin(
        tmp_path,
        """
        class ContainerPlugin:
            def pre_create(self, body):
                raise RuntimeError("boom")
        """,
    )
    manager = PluginManager([load_plugin(path)])
    with pytest.raises(PluginError, match=r"plug.py failed at pre_create: .*boom"):
        run(manager.pre_create(b"{}"))


def test_pre_create_wrong_return_type_fails(tmp_path: Path) -> None:
    path = write_plugin(
        tmp_path, "class ContainerPlugin:\n    def pre_create(self, b): return 5\n"
    )
    with pytest.raises(PluginError, match="binary stream or bytes"):
        run(PluginManager([load_plugin(path)]).pre_create(b"{}"))


def test_pre_start_gives_hooks_with_priorities(tmp_path: Path) -> None:
    path = write_plugin(
        tmp_path,
        """
        class ContainerPlugin:
            def pre_start(self, container):
                container["Id"] = "changed"
                return [3, -1], [["/bin/a", "a", "x"], ["/bin/b", "b"]]
        """,
    )
    doc = {"Id": "abc"}
    hooks = run(PluginManager([load_plugin(path)]).pre_start(doc))
    assert [(h.path, h.args, h.priority) for h in hooks] == [
        ("/bin/a", ["a", "x"], 3),
        ("/bin/b", ["b"], -1),
    ]
    assert doc["Id"] == "abc"  # the plugin saw a copy


@pytest.mark.parametrize(
    "result, message",
    [
        ("[1, 2], [['/bin/a', 'a']]", "pair up"),
        ("[1], [['bin/a', 'a']]", "absolute"),
        ("['x'], [['/bin/a', 'a']]", "must be an int"),
        ("None", r"\(priorities, hooks\)"),
    ],
)
def test_pre_start_bad_results_fail(tmp_path: Path, result: str, message: str) -> None:
    path = write_plugin(
        tmp_path,
        f"class ContainerPlugin:\n    def pre_start(self, c): return {result}\n",
    )
    with pytest.raises(PluginError, match=message):
        run(PluginManager([load_plugin(path)]).pre_start({}))


def test_pre_create_endpoint_failure_gives_defaults(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    good = write_plugin(
        tmp_path,
        """
        class ContainerPlugin:
            def pre_create_endpoint(self, cid, env):
                return 7, True, {"a": 1}
        """,
        "good.py",
    )
    bad = write_plugin(
        tmp_path,
        "class ContainerPlugin:\n    def pre_create_endpoint(self, c, e): 1 / 0\n",
        "bad.py",
    )
    choice = run(PluginManager([load_plugin(good)]).pre_create_endpoint("c", []))
    assert (choice.priority, choice.disable_resolver, choice.generic_params) == (
        7,
        True,
        {"a": 1},
    )
    with caplog.at_level(logging.ERROR, logger="pouch.plugin"):
        fallback = run(PluginManager([load_plugin(bad)]).pre_create_endpoint("c", []))
    assert (fallback.priority, fallback.disable_resolver) == (0, False)
    assert "bad.py failed at pre_create_endpoint" in caplog.text


def test_daemon_points(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = write_plugin(
        tmp_path,
        """
        class DaemonPlugin:
            def pre_start_hook(self):
                raise ValueError("no")
            async def pre_stop_hook(self):
                raise ValueError("bye")
        """,
    )
    manager = PluginManager([load_plugin(path)])
    with pytest.raises(PluginError, match="pre_start_hook"):
        run(manager.pre_start_hook())
    with caplog.at_level(logging.ERROR, logger="pouch.plugin"):
        run(manager.pre_stop_hook())  # logged, not raised
    assert "failed at pre_stop_hook" in caplog.text


def test_sync_methods_do_not_block_the_loop(tmp_path: Path) -> None:
    path = write_plugin(
        tmp_path,
        """
        import time
        class ContainerPlugin:
            def pre_create(self, body):
                time.sleep(0.3)
                return body
        """,
    )
    manager = PluginManager([load_plugin(path)])

    async def both() -> float:
        ticks = 0

        async def tick() -> None:
            nonlocal ticks
            while True:
                await asyncio.sleep(0.01)
                ticks += 1

        ticker = asyncio.create_task(tick())
        await manager.pre_create(b"{}")
        ticker.cancel()
        return ticks

    assert run(both()) > 10


def test_bytesio_input_is_a_binary_stream(tmp_path: Path) -> None:
    path = write_plugin(
        tmp_path,
        """
        import io
        class ContainerPlugin:
            def pre_create(self, body):
                assert isinstance(body, io.BufferedIOBase)
                return body
        """,
    )
    assert run(PluginManager([load_plugin(path)]).pre_create(b"ab")) == b"ab"
    assert isinstance(io.BytesIO(), io.BufferedIOBase)
