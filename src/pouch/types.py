"""The request bodies' shapes, as pydantic models with the Docker Engine API's field
names, and how a body becomes one. Every layer may import these; unknown fields are
kept so that inspect can show what the client sent.

A body is decoded in two steps, each refusing bad input with a 400 that names the
rule: ``decode_object`` turns bytes into a JSON object no deeper than ``MAX_DEPTH``,
and ``parse_model`` turns that object into a model, naming the first field that is
not of its type.
"""

from __future__ import annotations

import enum
import json
import reprlib
from typing import Any, TypeVar

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    ValidationError,
    field_validator,
    model_validator,
)

from pouch.errors import InvalidParameter

# No request of the Engine API nests anywhere near this deep. A body that does is
# refused before pydantic, which recurses, sees it; json.loads itself gives up
# (RecursionError) around the interpreter's recursion limit.
MAX_DEPTH = 100

Model = TypeVar("Model", bound=BaseModel)


def decode_object(raw: bytes, what: str) -> dict[str, Any]:
    """``raw`` as a JSON object (empty means ``{}``), or a 400 that says which rule it
    broke: not JSON, not an object, nested deeper than ``MAX_DEPTH``, or a number
    beyond Go's int64 (it would be stored, then break inspect and the runtime)."""
    try:
        body = json.loads(raw or b"{}")
    except RecursionError as exc:
        raise _too_deep(what) from exc
    except ValueError as exc:
        raise InvalidParameter(f"invalid JSON in {what}: {exc}") from exc
    if not isinstance(body, dict):
        raise InvalidParameter(f"{what} must be a JSON object")
    _check_values(body, what)
    return body


_INT64 = range(-(2**63), 2**63)


def _check_values(body: dict[str, Any], what: str) -> None:
    """Walks ``body`` without recursion, for its depth and its numbers."""
    pending: list[tuple[Any, tuple[str, ...]]] = [(body, ())]
    while pending:
        value, where = pending.pop()
        if isinstance(value, dict | list):
            if len(where) >= MAX_DEPTH:
                raise _too_deep(what)
            items = value.items() if isinstance(value, dict) else enumerate(value)
            pending += [(item, (*where, str(key))) for key, item in items]
        elif isinstance(value, int) and not isinstance(value, bool):
            if value not in _INT64:
                raise InvalidParameter(
                    f"invalid {what}: {'.'.join(where)}: {value} is out of the int64 "
                    "range"
                )


def _too_deep(what: str) -> InvalidParameter:
    return InvalidParameter(
        f"{what} is nested too deeply: at most {MAX_DEPTH} levels of objects and arrays"
    )


def parse_model(model: type[Model], body: Any, what: str) -> Model:
    """``body`` as ``model``, or a 400 naming the first field that broke a rule, the
    rule and the value sent."""
    try:
        return model.model_validate(body)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "body"
        rule = _RULES.get(first["type"], first["msg"])
        sent = reprlib.repr(first["input"])
        raise InvalidParameter(f"invalid {what}: {where}: {rule}, not {sent}") from exc


# pydantic's wording for the type errors a client makes most, in the API's terms.
_RULES = {
    "model_type": "must be a JSON object",
    "model_attributes_type": "must be a JSON object",
    "dict_type": "must be a JSON object",
    "list_type": "must be a JSON array",
    "string_type": "must be a string",
    "bool_type": "must be a boolean (true or false)",
    "bool_parsing": "must be a boolean (true or false)",
    "int_type": "must be an integer",
    "int_parsing": "must be an integer",
    "int_from_float": "must be an integer",
}


class _ApiModel(BaseModel):
    model_config = ConfigDict(
        extra="allow", populate_by_name=True, serialize_by_alias=True
    )

    @model_validator(mode="before")
    @classmethod
    def _null_is_unset(cls, data: Any) -> Any:
        # Go's decoder leaves a field at its zero value for a JSON null, so clients
        # send null for "not set" (the docker SDK does): a known field that is null
        # takes its default. Unknown fields are kept as sent.
        if not isinstance(data, dict):
            return data
        known = {f.alias or n for n, f in cls.model_fields.items()}
        return {k: v for k, v in data.items() if v is not None or k not in known}


class RestartPolicySettings(_ApiModel):
    Name: str = ""
    MaximumRetryCount: int = 0


class LogSettings(_ApiModel):
    Type: str = "json-file"
    # "Config" is pydantic's own name for class settings; the alias keeps the wire's.
    Config_: dict[str, str] = Field(default_factory=dict, alias="Config")


class PortBinding(_ApiModel):
    HostIp: str = ""
    HostPort: str = ""


class BindSettings(_ApiModel):
    Propagation: str = ""
    NonRecursive: bool = False
    CreateMountpoint: bool = False


class VolumeDriverSettings(_ApiModel):
    Name: str = ""
    Options: dict[str, str] | None = None


class VolumeSettings(_ApiModel):
    NoCopy: bool = False
    Labels: dict[str, str] | None = None
    DriverConfig: VolumeDriverSettings | None = None


class TmpfsSettings(_ApiModel):
    SizeBytes: int = 0
    Mode: int = 0  # Go's os.FileMode: the permission bits, 0o1777 as 1023


class MountSettings(_ApiModel):
    """One ``HostConfig.Mounts`` entry, as ``docker run --mount`` sends it."""

    Type: str = ""
    Source: str = ""
    Target: str = ""
    ReadOnly: bool = False
    Consistency: str = ""
    BindOptions: BindSettings | None = None
    VolumeOptions: VolumeSettings | None = None
    TmpfsOptions: TmpfsSettings | None = None


class HostSettings(_ApiModel):
    Binds: list[str] | None = None
    Mounts: list[MountSettings] | None = None
    VolumeDriver: str = ""
    VolumesFrom: list[str] | None = None
    NetworkMode: str = ""
    Memory: int = 0
    MemorySwap: int = 0
    CpuShares: int = 0
    CpuQuota: int = 0
    CpuPeriod: int = 0
    PidsLimit: int | None = None
    Privileged: bool = False
    CapAdd: list[str] | None = None
    CapDrop: list[str] | None = None
    ReadonlyRootfs: bool = False
    AutoRemove: bool = False
    RestartPolicy: RestartPolicySettings = Field(default_factory=RestartPolicySettings)
    LogConfig: LogSettings = Field(default_factory=LogSettings)
    # "80/tcp" -> [{"HostIp": "", "HostPort": "8080"}]
    PortBindings: dict[str, list[PortBinding] | None] | None = None
    PublishAllPorts: bool = False
    Init: bool | None = None
    Ulimits: list[dict[str, Any]] | None = None
    ShmSize: int = 0
    Tmpfs: dict[str, str] | None = None
    SecurityOpt: list[str] | None = None
    Devices: list[dict[str, Any]] | None = None
    NanoCpus: int = 0
    CpusetCpus: str = ""
    CpusetMems: str = ""
    OomKillDisable: bool | None = None
    GroupAdd: list[str] | None = None
    Sysctls: dict[str, str] | None = None
    Dns: list[str] | None = None
    DnsSearch: list[str] | None = None
    DnsOptions: list[str] | None = None
    # "name:address", the address may be "host-gateway".
    ExtraHosts: list[str] | None = None
    PidMode: str = ""  # "", "host" or "container:<id>"
    IpcMode: str = ""  # "", "none", "private", "shareable", "host", "container:<id>"
    UTSMode: str = ""  # "" or "host"
    Runtime: str = ""


class EndpointIpamSettings(_ApiModel):
    IPv4Address: str = ""
    IPv6Address: str = ""
    LinkLocalIPs: list[str] | None = None


class EndpointSettings(_ApiModel):
    Aliases: list[str] | None = None
    IPAMConfig: EndpointIpamSettings | None = None
    MacAddress: str = ""


class NetworkingSettings(_ApiModel):
    EndpointsConfig: dict[str, EndpointSettings] | None = None


class HealthcheckSettings(_ApiModel):
    """``Config.Healthcheck``; durations in nanoseconds, 0 meaning the default."""

    Test: list[str] | None = None
    Interval: int = 0
    Timeout: int = 0
    StartPeriod: int = 0
    StartInterval: int = 0
    Retries: int = 0


class ContainerConfig(_ApiModel):
    Hostname: str = ""
    Domainname: str = ""
    User: str = ""
    AttachStdin: bool = False
    AttachStdout: bool = False
    AttachStderr: bool = False
    Tty: bool = False
    OpenStdin: bool = False
    StdinOnce: bool = False
    Env: list[str] | None = None
    Cmd: list[str] | None = None
    Entrypoint: list[str] | None = None
    Image: str = ""
    WorkingDir: str = ""
    Labels: dict[str, str] | None = None
    StopSignal: str | None = None
    StopTimeout: int | None = None
    ExposedPorts: dict[str, Any] | None = None
    # Container paths that get an anonymous volume unless a bind or mount covers
    # them: {"/data": {}}.
    Volumes: dict[str, Any] | None = None
    MacAddress: str = ""
    Healthcheck: HealthcheckSettings | None = None

    @field_validator("Cmd", "Entrypoint", mode="before")
    @classmethod
    def _string_is_one_word(cls, value: Any) -> Any:
        # The API takes a bare string where it takes a list of words (docker's
        # strslice); a string means a one-element list.
        return [value] if isinstance(value, str) else value


class CreateRequest(ContainerConfig):
    """``POST /containers/create``: the container config with two nested sections."""

    HostConfig: HostSettings = Field(default_factory=HostSettings)
    NetworkingConfig: NetworkingSettings | None = None


class ExecConfig(_ApiModel):
    """POST /containers/{id}/exec's body."""

    AttachStdin: bool = False
    AttachStdout: bool = False
    AttachStderr: bool = False
    DetachKeys: str | None = None
    Tty: bool = False
    Env: list[str] | None = None
    Cmd: list[str] | None = None
    Privileged: bool = False
    User: str | None = None
    WorkingDir: str | None = None


class VolumeCreateRequest(_ApiModel):
    """POST /volumes/create's body."""

    # The docker SDK sends null for a name or driver it was not given.
    Name: str | None = None
    Driver: str | None = None
    DriverOpts: dict[str, str] | None = None
    Labels: dict[str, str] | None = None


class WaitCondition(enum.StrEnum):
    """``POST /containers/{id}/wait``'s ``condition``."""

    NOT_RUNNING = "not-running"
    NEXT_EXIT = "next-exit"
    REMOVED = "removed"


class IpamPool(_ApiModel):
    """One ``IPAM.Config`` entry of a network."""

    Subnet: str = ""
    IPRange: str = ""
    Gateway: str = ""
    AuxiliaryAddresses: dict[str, str] | None = None


class IpamSettings(_ApiModel):
    Driver: str = ""
    Config: list[IpamPool] | None = None
    Options: dict[str, str] | None = None


class NetworkCreateRequest(_ApiModel):
    """POST /networks/create's body. Booleans are strict: Go's decoder refuses
    ``"yes"`` where it wants true or false, and so do we."""

    Name: str = ""
    Driver: str = ""
    Internal: StrictBool = False
    Attachable: StrictBool = False
    Ingress: StrictBool = False
    ConfigOnly: StrictBool = False
    EnableIPv6: StrictBool = False
    CheckDuplicate: StrictBool = False
    IPAM: IpamSettings | None = None
    Options: dict[str, str] | None = None
    Labels: dict[str, str] | None = None


class NetworkConnectRequest(_ApiModel):
    """POST /networks/{id}/connect's and /disconnect's body."""

    Container: str = ""
    EndpointConfig: EndpointSettings | None = None
    Force: StrictBool = False
