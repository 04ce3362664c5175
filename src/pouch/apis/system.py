"""/_ping, /version and /info."""

from __future__ import annotations

import os
import platform
import socket
from typing import Any

from aiohttp import web

from pouch import API_VERSION, MIN_API_VERSION, __version__
from pouch.apis.context import ApiContext
from pouch.apis.wire import json_response
from pouch.mgr.records import Status

PING_HEADERS = {
    "Api-Version": API_VERSION,
    "Ostype": "linux",
    "Docker-Experimental": "false",
    "Cache-Control": "no-cache, no-store, must-revalidate",
    "Pragma": "no-cache",
}


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
    components = [
        {"Name": "Engine", "Version": __version__, "Details": {}},
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
        "ContainersStopped": len(containers) - count[Status.RUNNING] - count[Status.PAUSED],  # noqa: E501
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
        "CgroupVersion": "2" if os.path.exists("/sys/fs/cgroup/cgroup.controllers") else "1",  # noqa: E501
        "DefaultRuntime": "runc",
        "Runtimes": {"runc": {"path": "runc"}},
        "Plugins": {
            "Volume": [],
            "Network": ["bridge", "host", "null"],
            "Log": ["json-file"],
        },
        "PouchPlugins": ctx.plugins.describe(),
        "SecurityOptions": [],
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
