"""/_ping, /version and /info."""

from __future__ import annotations

import os
import platform
import socket
from typing import Any

from aiohttp import web

from pouch import API_VERSION, MIN_API_VERSION, __version__
from pouch.apis.context import ApiContext
from pouch.apis.wire import Handler, error_response, json_response
from pouch.mgr.records import Status

PING_HEADERS = {
    "Api-Version": API_VERSION,
    "Ostype": "linux",
    "Docker-Experimental": "false",
    "Cache-Control": "no-cache, no-store, must-revalidate",
    "Pragma": "no-cache",
}


def _parse_version(text: str) -> tuple[int, int]:
    major, _, minor = text.partition(".")
    return int(major), int(minor)


@web.middleware
async def version_middleware(
    request: web.Request, handler: Handler
) -> web.StreamResponse:
    """Refuses a ``/vX.Y`` prefix outside the supported range, in dockerd's words;
    docker clients negotiate down from /_ping's Api-Version before they call."""
    wanted = request.match_info.get("version")
    if wanted:
        if _parse_version(wanted) > _parse_version(API_VERSION):
            return error_response(
                400,
                f"client version {wanted} is too new. Maximum supported API "
                f"version is {API_VERSION}",
            )
        if _parse_version(wanted) < _parse_version(MIN_API_VERSION):
            return error_response(
                400,
                f"client version {wanted} is too old. Minimum supported API "
                f"version is {MIN_API_VERSION}, please upgrade your client to a "
                "newer version",
            )
    return await handler(request)


async def ping(request: web.Request) -> web.Response:
    body = b"" if request.method == "HEAD" else b"OK"
    headers = {**PING_HEADERS, "Content-Type": "text/plain; charset=utf-8"}
    return web.Response(body=body, headers=headers)


def _arch() -> str:
    machine = platform.machine()
    return {"x86_64": "amd64", "aarch64": "arm64"}.get(machine, machine)


async def version(request: web.Request) -> web.Response:
    ctx: ApiContext = request.app["ctx"]
    engine = {
        "Version": __version__,
        "ApiVersion": API_VERSION,
        "MinAPIVersion": MIN_API_VERSION,
        "GitCommit": "",
        "GoVersion": "python" + platform.python_version(),
        "Os": "linux",
        "Arch": _arch(),
        "KernelVersion": platform.release(),
        "BuildTime": "",
    }
    details = {k: str(v) for k, v in engine.items() if k != "Version"}
    components = [
        {
            "Name": "Engine",
            "Version": __version__,
            "Details": {**details, "Experimental": "false"},
        },  # noqa: E501
        {"Name": "containerd", "Version": ctx.containerd_version, "Details": {}},
    ]
    return json_response({**engine, "Components": components})


async def info(request: web.Request) -> web.Response:
    ctx: ApiContext = request.app["ctx"]
    containers = ctx.containers.all()
    images = await ctx.containers.images.list()
    count = {s: sum(c.state.status == s for c in containers) for s in Status}
    doc: dict[str, Any] = {
        "ID": socket.gethostname(),
        "Name": socket.gethostname(),
        "Containers": len(containers),
        "ContainersRunning": count[Status.RUNNING],
        "ContainersPaused": count[Status.PAUSED],
        "ContainersStopped": len(containers)
        - count[Status.RUNNING]
        - count[Status.PAUSED],  # noqa: E501
        "Images": len(images),
        "Driver": "overlayfs",
        "DriverStatus": [],
        "DockerRootDir": str(ctx.home_dir),
        "ServerVersion": __version__,
        "OperatingSystem": _os_name(),
        "OSType": "linux",
        "Architecture": platform.machine(),
        "KernelVersion": platform.release(),
        "NCPU": os.cpu_count() or 1,
        "MemTotal": os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"),
        "LoggingDriver": "json-file",
        "CgroupDriver": "cgroupfs",
        "CgroupVersion": "2"
        if os.path.exists("/sys/fs/cgroup/cgroup.controllers")
        else "1",  # noqa: E501
        "DefaultRuntime": "runc",
        "Runtimes": {"runc": {"path": "runc"}},
        "Plugins": {
            "Volume": ["local"],
            "Network": ["bridge", "host", "null"],
            "Log": ["json-file"],
        },
        "PouchPlugins": ctx.plugins.describe(),
        "SecurityOptions": ["name=seccomp,profile=builtin"],
        "Labels": [],
        "ExperimentalBuild": False,
        "Warnings": [],
        "IndexServerAddress": "https://index.docker.io/v1/",
        "RegistryConfig": {"IndexConfigs": {}, "InsecureRegistryCIDRs": []},
        "ContainerdCommit": {"ID": ctx.containerd_version, "Expected": ""},
        "RuncCommit": {"ID": "", "Expected": ""},
        "InitCommit": {"ID": "", "Expected": ""},
    }
    return json_response(doc)


def _os_name() -> str:
    try:
        with open("/etc/os-release") as f:
            for line in f:
                if line.startswith("PRETTY_NAME="):
                    return line.split("=", 1)[1].strip().strip('"')
    except OSError:
        pass
    return "Linux"


async def disk_usage(request: web.Request) -> web.Response:
    """GET /system/df: images with their sizes, containers, volumes with theirs."""
    ctx: ApiContext = request.app["ctx"]
    images = await ctx.containers.images.list()
    containers = await ctx.containers.list_with_sizes(all=True)
    users: dict[str, int] = {}
    for c in containers:
        users[c["ImageID"]] = users.get(c["ImageID"], 0) + 1
    for image in images:
        image["Containers"] = users.get(image["Id"], 0)
        # Layers are not counted apart here; 0 (not the list's -1, "not computed")
        # lets the docker CLI count what the images in use hold.
        image["SharedSize"] = 0
    return json_response({
        "LayersSize": sum(int(i.get("Size", 0)) for i in images),
        "Images": images,
        "Containers": containers,
        "Volumes": await ctx.containers.volumes.usage(),
        "BuildCache": [],
    })  # fmt: skip
