"""The create request's shapes, as pydantic models with the Docker Engine API's field
names. Every layer may import these; unknown fields are kept so that inspect can show
what the client sent."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator


class _ApiModel(BaseModel):
    model_config = ConfigDict(
        extra="allow", populate_by_name=True, serialize_by_alias=True
    )


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


class EndpointSettings(_ApiModel):
    Aliases: list[str] | None = None
    IPAMConfig: dict[str, Any] | None = None
    MacAddress: str = ""


class NetworkingSettings(_ApiModel):
    EndpointsConfig: dict[str, EndpointSettings] | None = None


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
