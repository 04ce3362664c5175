"""Create-time rules for a request's options that need no daemon state: what would
otherwise fail only at start (often as a 500), or be ignored, is refused at create
with a 400 that names the field. Rules that look at other containers or networks
stay with the container manager."""

from __future__ import annotations

import ipaddress
import posixpath
import signal

from pouch.errors import InvalidParameter
from pouch.network import files
from pouch.network.errors import InvalidAddress
from pouch.network.ipam import parse_mac
from pouch.oci.hostopts import CONTAINER_MODE
from pouch.types import CreateRequest


def check_request(request: CreateRequest) -> None:
    check_config(request)
    check_mac_addresses(request)
    check_host_ips(request)
    file_options(request)


def check_config(request: CreateRequest) -> None:
    """``StopSignal``, ``WorkingDir`` and ``Hostname`` against the UTS mode."""
    if request.StopSignal:
        parse_signal(request.StopSignal)
    if request.WorkingDir and not posixpath.isabs(request.WorkingDir):
        raise InvalidParameter(
            f"the working directory '{request.WorkingDir}' is invalid, it needs to "
            "be an absolute path"
        )
    if request.HostConfig.UTSMode == "host" and request.Hostname:
        raise InvalidParameter("conflicting options: hostname and the UTS mode")


def parse_signal(value: str | int) -> int:
    """A signal by number (1 to 64) or name, with or without ``SIG``."""
    text = str(value).strip().upper()
    if text.isascii() and text.isdigit():
        number = int(text)
        if 0 < number < 65:
            return number
    else:
        name = text if text.startswith("SIG") else "SIG" + text
        found = getattr(signal.Signals, name, None)
        if found is not None:
            return int(found)
    raise InvalidParameter(f"Invalid signal: {value}")


def check_mac_addresses(request: CreateRequest) -> None:
    """MACs of the request and of each endpoint, by form; none where the
    container has no interface of its own."""
    mode = request.HostConfig.NetworkMode
    if request.MacAddress and (mode == "host" or mode.startswith(CONTAINER_MODE)):
        raise InvalidParameter("conflicting options: mac-address and the network mode")
    found = [("MacAddress", request.MacAddress)]
    config = request.NetworkingConfig
    for network, settings in (config and config.EndpointsConfig or {}).items():
        found.append((f"EndpointsConfig.{network}.MacAddress", settings.MacAddress))
    for field, mac in found:
        if not mac:
            continue
        try:
            parse_mac(mac)
        except InvalidAddress as exc:
            raise InvalidParameter(f"invalid {field}: {exc}") from exc


def check_host_ips(request: CreateRequest) -> None:
    """Published ports listen on IPv4 addresses only (see pouch.network.ports)."""
    for key, bindings in (request.HostConfig.PortBindings or {}).items():
        for binding in bindings or []:
            if binding.HostIp and not _is_ipv4(binding.HostIp):
                raise InvalidParameter(
                    f"invalid HostIp {binding.HostIp!r} for port {key}: expected an "
                    "IPv4 address"
                )


def file_options(request: CreateRequest) -> files.FileOptions:
    """What the request asks of its resolv.conf and hosts, checked; a container in
    another's network namespace has that one's files, so it may ask nothing."""
    host = request.HostConfig
    if host.NetworkMode.startswith(CONTAINER_MODE):
        if host.Dns or host.DnsSearch or host.DnsOptions:
            raise InvalidParameter("conflicting options: dns and the network mode")
        if host.ExtraHosts:
            raise InvalidParameter(
                "conflicting options: custom host-to-IP mapping and the network mode"
            )
    try:
        return files.file_options(
            host.Dns, host.DnsSearch, host.DnsOptions, host.ExtraHosts
        )
    except files.FileOptionError as exc:
        raise InvalidParameter(str(exc)) from exc


def _is_ipv4(text: str) -> bool:
    try:
        ipaddress.IPv4Address(text)
    except ValueError:
        return False
    return True
