import os
import tempfile
from collections.abc import Iterator

import pytest
from click.testing import CliRunner, Result

from pouch.cli.main import cli

from .fakedaemon import FakeDaemon, serve


@pytest.fixture
def fake() -> Iterator[FakeDaemon]:
    # A short directory: unix socket paths are limited to ~108 bytes.
    with tempfile.TemporaryDirectory(prefix="pouch-cli-") as directory:
        fake, stop = serve(os.path.join(directory, "pouchd.sock"))
        try:
            yield fake
        finally:
            stop()
        assert not fake.errors, f"the fake daemon failed: {fake.errors!r}"


class Pouch:
    """Runs the CLI in-process against a host, output split by stream."""

    def __init__(self, host: str) -> None:
        self.host = host

    def __call__(self, *args: str, input: bytes | None = None) -> Result:
        runner = CliRunner()
        return runner.invoke(
            cli, ["-H", self.host, *args], input=input, catch_exceptions=False
        )


@pytest.fixture
def pouch(fake: FakeDaemon) -> Pouch:
    return Pouch(f"unix://{fake.socket_path}")
