"""Healthchecks: a container's own test of itself, run as dockerd runs it.

The rules for ``Config.Healthcheck`` (checked at create, merged with the image's) and
the monitor that runs the test while a container runs. Each run is an exec in the
container through an ``ExecManager`` of the monitor's own, so its ids never show
through the API. A result is recorded under the container's lock and only if the
container is still in the start the monitor was made for: an exit that raced the
last run wins.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import TYPE_CHECKING, Any

from pouch.errors import InvalidParameter, NotFound, PouchError
from pouch.mgr.records import (
    Container,
    Health,
    HealthResult,
    HealthStatus,
    Status,
    now_rfc3339,
    parse_rfc3339,
)
from pouch.types import HealthcheckSettings

if TYPE_CHECKING:
    from pouch.mgr.container import ContainerManager
    from pouch.mgr.exec import ExecManager, ExecRecord

log = logging.getLogger("pouch.container")

SECOND = 1_000_000_000  # nanoseconds, as the API counts
MIN_DURATION = SECOND // 1000
DEFAULT_INTERVAL = 30 * SECOND
DEFAULT_TIMEOUT = 30 * SECOND
DEFAULT_RETRIES = 3
LOG_ENTRIES = 5
MAX_OUTPUT = 4096
KINDS = ("NONE", "CMD", "CMD-SHELL")


# -- the rules ------------------------------------------------------------------


def check(config: HealthcheckSettings | None) -> None:
    """dockerd's limits on the durations and retries; a test of a known kind."""
    if config is None:
        return
    for name in ("Interval", "Timeout", "StartPeriod", "StartInterval"):
        value = getattr(config, name)
        if value != 0 and value < MIN_DURATION:
            raise InvalidParameter(f"{name} in Healthcheck cannot be less than 1ms")
    if config.Retries < 0:
        raise InvalidParameter("Retries in Healthcheck cannot be negative")
    test = config.Test or []
    if test and test[0] not in KINDS:
        raise InvalidParameter(
            f"invalid Healthcheck.Test {test!r}: it must start with NONE, CMD or "
            "CMD-SHELL"
        )
    if test and test[0] != "NONE" and len(test) < 2:
        raise InvalidParameter(
            f"invalid Healthcheck.Test {test!r}: {test[0]} needs a command"
        )


def merge(
    asked: HealthcheckSettings | None, image_config: dict[str, Any]
) -> HealthcheckSettings | None:
    """The request's healthcheck, with what it leaves unset taken from the image's,
    field by field as dockerd merges them at create."""
    raw = image_config.get("Healthcheck")
    if not isinstance(raw, dict):
        return asked
    image = HealthcheckSettings.model_validate(raw)
    if asked is None:
        return image
    merged = asked.model_copy()
    for name in ("Test", "Interval", "Timeout", "StartPeriod", "StartInterval"):
        if not getattr(merged, name):
            setattr(merged, name, getattr(image, name))
    if merged.Retries == 0:
        merged.Retries = image.Retries
    return merged


def probe_command(config: HealthcheckSettings | None) -> list[str]:
    """What to run; empty when the container has no healthcheck."""
    test = (config.Test or []) if config is not None else []
    if not test or test[0] == "NONE":
        return []
    if test[0] == "CMD-SHELL":
        return ["/bin/sh", "-c", " ".join(test[1:])]
    return test[1:]


def apply_result(
    health: Health, result: HealthResult, config: HealthcheckSettings, started: float
) -> None:
    """A run's result: a success makes the container healthy; failures count, except
    while it is still starting within its start period."""
    health.log = [*health.log, result][-LOG_ENTRIES:]
    if result.exit_code == 0:
        health.failing_streak = 0
        health.status = HealthStatus.HEALTHY
        return
    in_start_period = (
        parse_rfc3339(result.start) - started < config.StartPeriod / SECOND
    )
    if health.status == HealthStatus.STARTING and in_start_period:
        return
    health.failing_streak += 1
    if health.failing_streak >= (config.Retries or DEFAULT_RETRIES):
        health.status = HealthStatus.UNHEALTHY


def go_duration(nanoseconds: int) -> str:
    """A duration as Go prints the common ones: ``30s``, ``1.5s``, ``200ms``."""
    if nanoseconds < SECOND:
        return f"{nanoseconds / 1_000_000:g}ms"
    return f"{nanoseconds / SECOND:g}s"


# -- the monitor ----------------------------------------------------------------


class HealthMonitor:
    """One task per running container with a healthcheck."""

    def __init__(self, containers: ContainerManager, execs: ExecManager) -> None:
        self.containers = containers
        self.execs = execs
        self._tasks: dict[str, asyncio.Task[None]] = {}

    def watch(self, container: Container, *, fresh: bool) -> None:
        """Monitors a container that runs. ``fresh`` for a new start: its health is
        ``starting`` again (the log stays); a re-adopted one keeps what it had. The
        caller saves the record."""
        config = container.request.Healthcheck
        if config is None or not probe_command(config):
            return
        health = container.state.health
        if fresh or health is None:
            log_so_far = health.log if health is not None else []
            container.state.health = Health(log=log_so_far)
        self.unwatch(container.id)
        task = asyncio.create_task(
            self._run(container.id, config, container.state.started_at)
        )
        self._tasks[container.id] = task

    def unwatch(self, cid: str) -> None:
        task = self._tasks.pop(cid, None)
        if task is not None:
            task.cancel()

    async def close(self) -> None:
        tasks = list(self._tasks.values())
        self._tasks.clear()
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

    async def _run(self, cid: str, config: HealthcheckSettings, started: str) -> None:
        interval = (config.Interval or DEFAULT_INTERVAL) / SECOND
        # StartInterval belongs to API 1.44, above the versions served: it is
        # checked at create, and the start period is probed at Interval.
        try:
            while True:
                await asyncio.sleep(interval)
                container = self.containers.get(cid)
                if container.state.status == Status.PAUSED:
                    continue
                result = await self._probe(cid, config)
                await self._record(cid, config, started, result)
        except NotFound:
            pass
        except Exception:
            log.exception("container %s: its healthcheck monitor failed", cid)
        finally:
            if self._tasks.get(cid) is asyncio.current_task():
                del self._tasks[cid]

    async def _probe(self, cid: str, config: HealthcheckSettings) -> HealthResult:
        """One run, bounded by the timeout; a run that cannot start, or overruns
        (and is killed), is a failure with exit code -1, as dockerd records it."""
        start = now_rfc3339()
        body = {"Cmd": probe_command(config), "AttachStdout": True}
        try:
            record, io = await self.execs.start(self.execs.create(cid, body).id)
        except PouchError as exc:
            return HealthResult(start, now_rfc3339(), -1, str(exc))
        timeout = config.Timeout or DEFAULT_TIMEOUT
        try:
            output = await asyncio.wait_for(self._output(record, io), timeout / SECOND)
            code = record.exit_code if record.exit_code is not None else -1
        except TimeoutError:
            await self.execs.kill(record)
            output = f"Health check exceeded timeout ({go_duration(timeout)})"
            code = -1
        finally:
            io.close()
            self.execs.discard(record.id)
        return HealthResult(start, now_rfc3339(), code, output)

    async def _output(self, record: ExecRecord, io: Any) -> str:
        """stdout and stderr together, the first ``MAX_OUTPUT`` bytes of them."""
        kept = bytearray()
        async for _, data in self.execs.output(record, io):
            kept += data[: MAX_OUTPUT - len(kept)]
        return kept.decode(errors="replace")

    async def _record(
        self, cid: str, config: HealthcheckSettings, started: str, result: HealthResult
    ) -> None:
        async with self.containers._lock(cid):
            container = self.containers.get(cid)
            health = container.state.health
            if not container.running or container.state.started_at != started:
                return
            if health is None:
                return
            before = health.status
            apply_result(health, result, config, parse_rfc3339(started))
            self.containers._save(container)
        log.debug("container %s: healthcheck exit code %d", cid, result.exit_code)
        if health.status != before:
            log.info("container %s is %s", cid, health.status.value)
            self.containers.emit(container, f"health_status: {health.status.value}")
