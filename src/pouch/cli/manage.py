"""Commands on running containers and the engine's space: ``exec pause unpause
rename top stats events export container system``.

``exec`` without ``-i``/``-t`` reads the multiplexed stream of a plain (not
upgraded) start; with them it uses the upgraded stream (see ``interactive``). The
exit code comes from the exec's inspect.
"""

import json
import sys
import time
from typing import Any

import click

from ._shared import Failure, exit_with, for_each, make_client

# docker's status for an exec whose command could not be started.
EXEC_FAILED = 126


@click.command(context_settings={"ignore_unknown_options": True})
@click.option("-d", "--detach", is_flag=True, help="Run the command in the background.")
@click.option("-i", "--interactive", is_flag=True, help="Keep STDIN open.")
@click.option("-t", "--tty", is_flag=True, help="Allocate a pseudo-TTY.")
@click.option("-e", "--env", multiple=True, help="Set environment variables.")
@click.option("-w", "--workdir", help="Working directory inside the container.")
@click.option("-u", "--user", help="Username or UID[:GID].")
@click.option("--privileged", is_flag=True, help="Give extended privileges.")
@click.argument("container")
@click.argument("command", nargs=-1, required=True, type=click.UNPROCESSED)
@click.pass_context
def exec(  # noqa: A001 - docker's command name
    ctx: click.Context,
    detach: bool,
    interactive: bool,
    tty: bool,
    env: tuple[str, ...],
    workdir: str | None,
    user: str | None,
    privileged: bool,
    container: str,
    command: tuple[str, ...],
) -> None:
    """Run a command in a running container."""
    from pouch.client.streams import demux

    client = make_client(ctx)
    config: dict[str, Any] = {
        "Cmd": list(command),
        "Env": list(env),
        "AttachStdout": not detach,
        "AttachStderr": not detach,
        "Privileged": privileged,
    }
    if workdir:
        config["WorkingDir"] = workdir
    if user:
        config["User"] = user
    config["Tty"] = tty
    config["AttachStdin"] = interactive and not detach
    exec_id = client.call("POST", f"/containers/{container}/exec", None, config)["Id"]
    if (interactive or tty) and not detach:
        from .interactive import run_stream

        start = {"Detach": False, "Tty": tty}
        if run_stream(ctx, f"/exec/{exec_id}/start", None, start, tty, interactive):
            return  # detached: the process goes on
        code = client.call("GET", f"/exec/{exec_id}/json")["ExitCode"]
        if code:
            exit_with(int(code))
        return
    from pouch.client import APIError

    try:
        stream = client.request(
            "POST", f"/exec/{exec_id}/start", None, {"Detach": detach, "Tty": False}
        )
    except APIError as exc:
        if detach:
            raise
        # As docker: the runtime's words, and the exec's status (126, it never ran).
        click.echo(exc.message, err=True)
        code = client.call("GET", f"/exec/{exec_id}/json")["ExitCode"]
        exit_with(int(code or EXEC_FAILED))
    if detach:
        stream.read()
        return
    for number, data in demux(stream.chunks()):
        out = sys.stderr if number == 2 else sys.stdout
        out.buffer.write(data)
        out.flush()
    code = client.call("GET", f"/exec/{exec_id}/json")["ExitCode"]
    if code:
        exit_with(int(code))


@click.command()
@click.argument("containers", nargs=-1, required=True)
@click.pass_context
def pause(ctx: click.Context, containers: tuple[str, ...]) -> None:
    """Pause all processes within one or more containers."""
    client = make_client(ctx)
    for_each(containers, lambda c: client.call("POST", f"/containers/{c}/pause"))


@click.command()
@click.argument("containers", nargs=-1, required=True)
@click.pass_context
def unpause(ctx: click.Context, containers: tuple[str, ...]) -> None:
    """Unpause all processes within one or more containers."""
    client = make_client(ctx)
    for_each(containers, lambda c: client.call("POST", f"/containers/{c}/unpause"))


@click.command()
@click.argument("container")
@click.argument("new_name")
@click.pass_context
def rename(ctx: click.Context, container: str, new_name: str) -> None:
    """Rename a container."""
    make_client(ctx).call("POST", f"/containers/{container}/rename", {"name": new_name})


@click.command()
@click.argument("container")
@click.argument("ps_args", nargs=-1)
@click.pass_context
def top(ctx: click.Context, container: str, ps_args: tuple[str, ...]) -> None:
    """Display the running processes of a container."""
    query = {"ps_args": " ".join(ps_args)} if ps_args else None
    result = make_client(ctx).call("GET", f"/containers/{container}/top", query)
    rows = [result["Titles"], *result["Processes"]]
    for row in rows:
        click.echo("".join(f"{cell:<20}" for cell in row[:-1]) + row[-1])


@click.command()
@click.option("--no-stream", is_flag=True, help="Print one sample and exit.")
@click.argument("containers", nargs=-1, required=True)
@click.pass_context
def stats(ctx: click.Context, no_stream: bool, containers: tuple[str, ...]) -> None:
    """Display a live stream of containers' resource usage."""
    client = make_client(ctx)
    while True:
        docs = [
            client.call("GET", f"/containers/{c}/stats", {"stream": 0})
            for c in containers
        ]
        click.echo(_stats_table(docs))
        if no_stream:
            return
        time.sleep(1)


def _stats_table(docs: list[dict[str, Any]]) -> str:
    lines = ["CONTAINER ID   NAME                 CPU %     MEM USAGE / LIMIT     PIDS"]
    for doc in docs:
        memory = doc.get("memory_stats") or {}
        usage = f"{_size(memory.get('usage', 0))} / {_size(memory.get('limit', 0))}"
        lines.append(
            f"{doc['id'][:12]}   {doc['name'].lstrip('/'):<20} {_cpu(doc):<9} "
            f"{usage:<21} {(doc.get('pids_stats') or {}).get('current', 0)}"
        )
    return "\n".join(lines)


def _cpu(doc: dict[str, Any]) -> str:
    cpu, pre = doc.get("cpu_stats") or {}, doc.get("precpu_stats") or {}
    used = cpu.get("cpu_usage", {}).get("total_usage", 0) - pre.get(
        "cpu_usage", {}
    ).get("total_usage", 0)
    system = cpu.get("system_cpu_usage", 0) - pre.get("system_cpu_usage", 0)
    if used <= 0 or system <= 0:
        return "0.00%"
    return f"{used / system * cpu.get('online_cpus', 1) * 100:.2f}%"


def _size(value: int) -> str:
    size = float(value)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024:
            return f"{size:.4g}{unit}"
        size /= 1024
    return f"{size:.4g}TiB"


@click.command()
@click.option("--since", help="Show events created since this Unix time.")
@click.option("--until", help="Stream events until this Unix time.")
@click.option("-f", "--filter", "filters", multiple=True, help="key=value filters.")
@click.pass_context
def events(
    ctx: click.Context, since: str | None, until: str | None, filters: tuple[str, ...]
) -> None:
    """Get real time events from the engine."""
    grouped: dict[str, list[str]] = {}
    for item in filters:
        key, sep, value = item.partition("=")
        if not sep:
            raise Failure(f'bad format of filter (expected name=value): "{item}"')
        grouped.setdefault(key, []).append(value)
    query: dict[str, Any] = {"filters": json.dumps(grouped)} if grouped else {}
    if since:
        query["since"] = since
    if until:
        query["until"] = until
    stream = make_client(ctx).request("GET", "/events", query or None)
    buffer = b""
    for chunk in stream.chunks():
        buffer += chunk
        *lines, buffer = buffer.split(b"\n")
        for line in lines:
            if line.strip():
                click.echo(_event_line(json.loads(line)))


def _event_line(event: dict[str, Any]) -> str:
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(event["time"]))
    attrs = event["Actor"]["Attributes"]
    details = ", ".join(f"{k}={v}" for k, v in sorted(attrs.items()))
    actor = event["Actor"]["ID"]
    return f"{stamp} {event['Type']} {event['Action']} {actor} ({details})"


@click.command()
@click.option("-o", "--output", type=click.Path(), help="Write to a file.")
@click.argument("container")
@click.pass_context
def export(ctx: click.Context, output: str | None, container: str) -> None:
    """Export a container's filesystem as a tar archive."""
    stream = make_client(ctx).request("GET", f"/containers/{container}/export")
    out = open(output, "wb") if output else sys.stdout.buffer  # noqa: SIM115
    try:
        for chunk in stream.chunks():
            out.write(chunk)
    finally:
        if output:
            out.close()


@click.group()
def container() -> None:
    """Manage containers."""


@container.command("prune")
@click.option("-f", "--force", is_flag=True, help="Do not prompt for confirmation.")
@click.pass_context
def container_prune(ctx: click.Context, force: bool) -> None:
    """Remove all stopped containers."""
    if not force and not click.confirm(
        "WARNING! This will remove all stopped containers.\n"
        "Are you sure you want to continue?"
    ):
        return
    report = make_client(ctx).call("POST", "/containers/prune")
    deleted = report.get("ContainersDeleted") or []
    if deleted:
        click.echo("Deleted Containers:")
        for cid in deleted:
            click.echo(cid)
        click.echo()
    click.echo(f"Total reclaimed space: {_size(report.get('SpaceReclaimed', 0))}")


@click.group()
def system() -> None:
    """Manage the engine."""


@system.command("df")
@click.pass_context
def system_df(ctx: click.Context) -> None:
    """Show the engine's disk usage."""
    usage = make_client(ctx).call("GET", "/system/df")
    images = usage.get("Images") or []
    containers = usage.get("Containers") or []
    running = sum(1 for c in containers if c.get("State") == "running")
    active = sum(1 for i in images if i.get("Containers", 0) > 0)
    layers = _size(usage.get("LayersSize", 0))
    writable = _size(sum(c.get("SizeRw", 0) for c in containers))
    click.echo("TYPE            TOTAL     ACTIVE    SIZE")
    click.echo(f"Images          {len(images):<9} {active:<9} {layers}")
    click.echo(f"Containers      {len(containers):<9} {running:<9} {writable}")
    volumes = usage.get("Volumes") or []
    used = sum(1 for v in volumes if (v.get("UsageData") or {}).get("RefCount", 0))
    held = _size(
        sum(max((v.get("UsageData") or {}).get("Size", 0), 0) for v in volumes)
    )
    click.echo(f"Local Volumes   {len(volumes):<9} {used:<9} {held}")
    click.echo("Build Cache     0         0         0B")


@click.command()
@click.argument("source")
@click.argument("dest")
@click.pass_context
def cp(ctx: click.Context, source: str, dest: str) -> None:
    """Copy files between a container and the local filesystem.

    CONTAINER:PATH names a path in a container; one side must be one.
    """
    import io
    import os
    import tarfile

    client = make_client(ctx)
    if ":" in source and not source.startswith(("/", ".")):
        container, path = source.split(":", 1)
        stream = client.request(
            "GET", f"/containers/{container}/archive", {"path": path}
        )  # noqa: E501
        data = stream.read()
        target = dest
        with tarfile.open(fileobj=io.BytesIO(data)) as tar:
            members = tar.getmembers()
            top = members[0].name if members else ""
            if os.path.isdir(target):
                tar.extractall(target, filter="tar")
                return
            # Copying onto a new name: the top entry takes the target's name.
            parent, base = os.path.split(os.path.abspath(target))
            for member in members:
                member.name = base + member.name[len(top) :]
            tar.extractall(parent, members=members, filter="tar")
        return
    if ":" not in dest:
        raise Failure("must specify at least one container source")
    container, path = dest.split(":", 1)
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        tar.add(source, arcname=os.path.basename(source.rstrip("/")))
    target_dir = path if path.endswith("/") else os.path.dirname(path) or "/"
    if not path.endswith("/"):
        # Copying onto a new name: archive under that name, into its directory.
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w") as tar:
            tar.add(source, arcname=os.path.basename(path))
        try:
            head = client.request(
                "HEAD", f"/containers/{container}/archive", {"path": path}
            )  # noqa: E501
            head.read()
            stat = head.response.getheader("X-Docker-Container-Path-Stat") or ""
            import base64
            import json as _json

            if _json.loads(base64.b64decode(stat))["mode"] & (1 << 31):
                target_dir = path
                buf = io.BytesIO()
                with tarfile.open(fileobj=buf, mode="w") as tar:
                    tar.add(source, arcname=os.path.basename(source.rstrip("/")))
        except Exception:
            pass
    client.request(
        "PUT", f"/containers/{container}/archive", {"path": target_dir},
        buf.getvalue(), {"Content-Type": "application/x-tar"},
    ).read()  # fmt: skip


@click.command()
@click.option("-m", "--memory", help="Memory limit.")
@click.option("--memory-swap", help="Memory plus swap limit; -1 for unlimited.")
@click.option("--cpus", type=float, help="Number of CPUs.")
@click.option("--cpuset-cpus", help="CPUs in which to allow execution.")
@click.option("--cpu-shares", type=int, help="CPU shares (relative weight).")
@click.option("--pids-limit", type=int, help="Tune the container pids limit.")
@click.option("--restart", help="Restart policy to apply.")
@click.argument("containers", nargs=-1, required=True)
@click.pass_context
def update(
    ctx: click.Context,
    memory: str | None,
    memory_swap: str | None,
    cpus: float | None,
    cpuset_cpus: str | None,
    cpu_shares: int | None,
    pids_limit: int | None,
    restart: str | None,
    containers: tuple[str, ...],
) -> None:
    """Update configuration of one or more containers."""
    from .units import parse_size

    body: dict[str, Any] = {}
    if memory:
        body["Memory"] = parse_size(memory)
    if memory_swap:
        body["MemorySwap"] = -1 if memory_swap == "-1" else parse_size(memory_swap)
    if cpus is not None:
        body["NanoCpus"] = int(round(cpus * 1e9))
    if cpuset_cpus:
        body["CpusetCpus"] = cpuset_cpus
    if cpu_shares is not None:
        body["CpuShares"] = cpu_shares
    if pids_limit is not None:
        body["PidsLimit"] = pids_limit
    if restart:
        name, _, count = restart.partition(":")
        body["RestartPolicy"] = {"Name": name, "MaximumRetryCount": int(count or 0)}
    client = make_client(ctx)

    def one(name: str) -> None:
        client.call("POST", f"/containers/{name}/update", None, body)

    for_each(containers, one)
