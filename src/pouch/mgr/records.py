"""A container as the store keeps it, and its state machine's states."""

from __future__ import annotations

import enum
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

from pouch.types import CreateRequest

ZERO_TIME = "0001-01-01T00:00:00Z"


def now_rfc3339() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_rfc3339(value: str) -> float:
    if not value or value.startswith("0001-"):
        return 0.0
    return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()


class Status(enum.StrEnum):
    CREATED = "created"
    RUNNING = "running"
    PAUSED = "paused"
    RESTARTING = "restarting"
    REMOVING = "removing"
    EXITED = "exited"
    DEAD = "dead"


class HealthStatus(enum.StrEnum):
    STARTING = "starting"
    HEALTHY = "healthy"
    UNHEALTHY = "unhealthy"


@dataclass
class HealthResult:
    """One run of a container's healthcheck."""

    start: str
    end: str
    exit_code: int
    output: str

    def to_api(self) -> dict[str, Any]:
        return {
            "Start": self.start,
            "End": self.end,
            "ExitCode": self.exit_code,
            "Output": self.output,
        }


@dataclass
class Health:
    status: HealthStatus = HealthStatus.STARTING
    failing_streak: int = 0
    log: list[HealthResult] = field(default_factory=list)  # the latest last

    def to_api(self) -> dict[str, Any]:
        return {
            "Status": self.status.value,
            "FailingStreak": self.failing_streak,
            "Log": [result.to_api() for result in self.log],
        }

    @classmethod
    def from_doc(cls, doc: dict[str, Any]) -> Health:
        return cls(
            status=HealthStatus(doc["status"]),
            failing_streak=doc["failing_streak"],
            log=[HealthResult(**result) for result in doc["log"]],
        )


@dataclass
class State:
    status: Status = Status.CREATED
    pid: int = 0
    exit_code: int = 0
    error: str = ""
    started_at: str = ZERO_TIME
    finished_at: str = ZERO_TIME
    oom_killed: bool = False
    # Only for a container with a healthcheck; kept after it exits, as dockerd does.
    health: Health | None = None

    def to_api(self) -> dict[str, Any]:
        doc: dict[str, Any] = {
            "Status": self.status.value,
            "Running": self.status in (Status.RUNNING, Status.PAUSED),
            "Paused": self.status == Status.PAUSED,
            "Restarting": self.status == Status.RESTARTING,
            "OOMKilled": self.oom_killed,
            "Dead": self.status == Status.DEAD,
            "Pid": self.pid,
            "ExitCode": self.exit_code,
            "Error": self.error,
            "StartedAt": self.started_at,
            "FinishedAt": self.finished_at,
        }
        if self.health is not None:
            doc["Health"] = self.health.to_api()
        return doc


@dataclass
class EndpointInfo:
    """A container's place on one network, as inspect shows it."""

    network: str
    network_id: str = ""
    endpoint_id: str = ""
    ip_address: str = ""
    prefix_len: int = 0
    gateway: str = ""
    mac_address: str = ""
    priority: int = 0
    disable_resolver: bool = False
    generic_params: dict[str, Any] = field(default_factory=dict)
    aliases: list[str] = field(default_factory=list)

    def to_api(self) -> dict[str, Any]:
        return {
            "NetworkID": self.network_id,
            "EndpointID": self.endpoint_id,
            "Gateway": self.gateway,
            "IPAddress": self.ip_address,
            "IPPrefixLen": self.prefix_len,
            "MacAddress": self.mac_address,
            "Aliases": self.aliases or None,
            "Priority": self.priority,
            "DisableResolver": self.disable_resolver,
            "GenericParams": self.generic_params,
        }


@dataclass
class MountPoint:
    """A volume, host directory or tmpfs in a container, resolved at create."""

    type: str  # volume, bind or tmpfs
    destination: str
    source: str = ""  # the host path: a bind's, or the volume's data directory
    name: str = ""  # the volume's
    read_only: bool = False
    mode: str = ""  # what followed the destination in a bind ("ro,z"), for inspect
    propagation: str = ""
    non_recursive: bool = False
    # A volume made for this container alone, which ``rm -v`` removes with it.
    anonymous: bool = False
    # A ``-v`` bind whose missing host directory the start makes, as docker does.
    make_source: bool = False
    options: list[str] = field(default_factory=list)  # a tmpfs's size= and mode=

    def to_api(self) -> dict[str, Any]:
        doc: dict[str, Any] = {"Type": self.type}
        if self.type == "volume":
            doc["Name"] = self.name
        doc.update(Source=self.source, Destination=self.destination)
        if self.type == "volume":
            doc["Driver"] = "local"
        doc.update(Mode=self.mode, RW=not self.read_only, Propagation=self.propagation)
        return doc


@dataclass
class Container:
    id: str
    name: str
    created: str
    image: str  # as the client named it
    image_ref: str  # the normalized reference
    image_id: str
    request: CreateRequest
    log_path: str
    hostname: str
    args: list[str] = field(default_factory=list)  # the command as it will run
    state: State = field(default_factory=State)
    networks: list[EndpointInfo] = field(default_factory=list)
    files: dict[str, str] = field(default_factory=dict)
    restart_count: int = 0
    # Published ports while running: {"Proto", "HostIp", "HostPort", "Port"} each.
    ports: list[dict[str, Any]] = field(default_factory=list)
    # poststop hooks of the current start, run by the daemon at the final exit.
    poststop_hooks: list[dict[str, Any]] = field(default_factory=list)
    mounts: list[MountPoint] = field(default_factory=list)

    @property
    def running(self) -> bool:
        return self.state.status in (Status.RUNNING, Status.PAUSED)

    @property
    def network_mode(self) -> str:
        mode = self.request.HostConfig.NetworkMode
        return "bridge" if mode in ("", "default") else mode

    def to_doc(self) -> dict[str, Any]:
        doc = asdict(self)
        doc["request"] = self.request.model_dump(mode="json")
        return doc

    @classmethod
    def from_doc(cls, doc: dict[str, Any]) -> Container:
        doc = dict(doc)
        doc["request"] = CreateRequest.model_validate(doc["request"])
        state = dict(doc["state"])
        state["status"] = Status(state["status"])
        if state.get("health"):
            state["health"] = Health.from_doc(state["health"])
        doc["state"] = State(**state)
        doc["networks"] = [EndpointInfo(**n) for n in doc["networks"]]
        if "mounts" in doc:
            doc["mounts"] = [MountPoint(**m) for m in doc["mounts"]]
        else:
            doc["mounts"] = _bind_points(doc["request"])
        return cls(**doc)


def _bind_points(request: CreateRequest) -> list[MountPoint]:
    """The host binds of a record written before mount points were kept."""
    points = []
    for bind in request.HostConfig.Binds or []:
        source, _, rest = bind.partition(":")
        destination, _, mode = rest.partition(":")
        points.append(
            MountPoint(
                type="bind",
                destination=destination,
                source=source,
                read_only="ro" in mode.split(","),
                mode=mode,
                propagation="rprivate",
            )
        )
    return points
