"""``pouch pull`` draws the daemon's progress: lines off a terminal, bars on one."""

from __future__ import annotations

import io

import pytest
from rich.console import Console

from pouch.cli import registry
from pouch.cli._shared import Failure

MESSAGES = [
    {"status": "Pulling from library/busybox", "progressDetail": {}, "id": "latest"},
    {"status": "Pulling fs layer", "progressDetail": {}, "id": "aaa"},
    {
        "status": "Downloading",
        "progressDetail": {"current": 5, "total": 10},
        "progress": "[==>  ]",
        "id": "aaa",
    },  # fmt: skip
    {"status": "Pull complete", "progressDetail": {}, "id": "aaa"},
    {"status": "Digest: sha256:abc"},
    {"status": "Status: Downloaded newer image for busybox:latest"},
]


def test_lines_off_a_terminal(capsys: pytest.CaptureFixture[str]) -> None:
    registry._show(iter(MESSAGES), quiet=False)
    assert capsys.readouterr().out.splitlines() == [
        "latest: Pulling from library/busybox",
        "aaa: Pulling fs layer",
        "aaa: Pull complete",
        "Digest: sha256:abc",
        "Status: Downloaded newer image for busybox:latest",
    ]


def test_bars_on_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    out = io.StringIO()
    monkeypatch.setattr(
        "rich.progress.get_console", lambda: Console(file=out, force_terminal=True)
    )
    registry._bars(iter(MESSAGES))
    text = out.getvalue()
    assert "latest: Pulling from library/busybox" in text
    assert "aaa: Pull complete" in text
    assert "Status: Downloaded newer image for busybox:latest" in text


def test_an_error_message_fails_the_command() -> None:
    with pytest.raises(Failure, match="digest mismatch"):
        registry._show(iter([{"error": "digest mismatch", "errorDetail": {}}]), False)
