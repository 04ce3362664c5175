#!/usr/bin/env python3
"""Build a ``busybox:latest`` image as a docker-archive tarball from /bin/busybox.

    scripts/build_busybox_image.py OUT.tar [--busybox PATH] [--tag busybox:latest]

Tests and air-gapped machines need an image without a registry. The host's static
busybox gives one: a single layer with the binary, a hard link per applet in /bin,
and the few files and directories Docker's busybox image has. Every timestamp, owner
and ordering is fixed, so the same busybox binary always yields the same image id.
Standard library only.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import os
import platform
import subprocess
import sys
import tarfile
from collections.abc import Iterable

# 2024-01-01T00:00:00Z: fixed so that the layer and config digests are stable.
EPOCH = 1704067200
CREATED = "2024-01-01T00:00:00Z"
PATH_ENV = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

# uname -m -> GOARCH, as image configs spell architectures.
ARCHES = {
    "x86_64": "amd64",
    "aarch64": "arm64",
    "armv7l": "arm",
    "armv6l": "arm",
    "i686": "386",
    "i386": "386",
    "ppc64le": "ppc64le",
    "s390x": "s390x",
    "riscv64": "riscv64",
}

DIRS = {
    "bin": 0o755,
    "dev": 0o755,
    "etc": 0o755,
    "home": 0o755,
    "lib": 0o755,
    "proc": 0o755,
    "root": 0o700,
    "sys": 0o755,
    "tmp": 0o1777,
    "usr": 0o755,
    "usr/sbin": 0o755,
    "var": 0o755,
    "var/spool": 0o755,
    "var/spool/mail": 0o755,
    "var/www": 0o755,
}

FILES = {
    "etc/passwd": (
        "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/home:/bin/false\n"
    ),
    "etc/group": "root:x:0:\nnobody:x:65534:\n",
    "etc/shadow": "root:*:10933:0:99999:7:::\nnobody:*:10933:0:99999:7:::\n",
    # Mount points for the files the engine bind-mounts into each container.
    "etc/hosts": "",
    "etc/hostname": "",
    "etc/resolv.conf": "",
}


def applets(busybox: str) -> list[str]:
    """The applet names the binary provides, sorted and without busybox itself."""
    out = subprocess.run([busybox, "--list"], check=True, capture_output=True)
    names = {n for n in out.stdout.decode().split() if n and "/" not in n}
    names.discard("busybox")
    return sorted(names)


def _info(name: str, kind: bytes, mode: int, size: int = 0) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.mode = mode
    info.size = size
    info.mtime = EPOCH
    info.uid = info.gid = 0
    info.uname = info.gname = "root"
    return info


def build_layer(busybox: str, names: Iterable[str]) -> bytes:
    """The rootfs as an uncompressed tar, entries in a fixed order."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        for path, mode in sorted(DIRS.items()):
            tar.addfile(_info(path + "/", tarfile.DIRTYPE, mode))
        with open(busybox, "rb") as f:
            data = f.read()
        tar.addfile(
            _info("bin/busybox", tarfile.REGTYPE, 0o755, len(data)), io.BytesIO(data)
        )
        for name in names:
            link = _info(f"bin/{name}", tarfile.LNKTYPE, 0o755)
            link.linkname = "bin/busybox"
            tar.addfile(link)
        for path, text in sorted(FILES.items()):
            body = text.encode()
            mode = 0o640 if path == "etc/shadow" else 0o644
            tar.addfile(_info(path, tarfile.REGTYPE, mode, len(body)), io.BytesIO(body))
    return buf.getvalue()


def build_config(diff_id: str, arch: str) -> bytes:
    """The image config JSON: Cmd sh, PATH, one layer."""
    config = {
        "architecture": arch,
        "config": {
            "Cmd": ["sh"],
            "Env": [PATH_ENV],
            "Image": "",
            "Labels": None,
            "WorkingDir": "",
        },
        "created": CREATED,
        "history": [
            {"created": CREATED, "created_by": "build_busybox_image.py (busybox)"},
            {
                "created": CREATED,
                "created_by": '/bin/sh -c #(nop)  CMD ["sh"]',
                "empty_layer": True,
            },
        ],
        "os": "linux",
        "rootfs": {"type": "layers", "diff_ids": [diff_id]},
    }
    return json.dumps(config, sort_keys=True, separators=(",", ":")).encode()


def build_archive(layer: bytes, config: bytes, tag: str) -> bytes:
    """Wrap layer and config in the ``docker save`` layout."""
    layer_hex = hashlib.sha256(layer).hexdigest()
    config_hex = hashlib.sha256(config).hexdigest()
    repo, _, version = tag.rpartition(":")
    manifest = [
        {
            "Config": f"{config_hex}.json",
            "RepoTags": [tag],
            "Layers": [f"{layer_hex}/layer.tar"],
        }
    ]
    repositories = {repo: {version: layer_hex}}
    members = [
        (f"{layer_hex}/", None),
        (f"{layer_hex}/VERSION", b"1.0"),
        (f"{layer_hex}/layer.tar", layer),
        (f"{config_hex}.json", config),
        ("manifest.json", json.dumps(manifest, separators=(",", ":")).encode()),
        ("repositories", json.dumps(repositories, separators=(",", ":")).encode()),
    ]
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        for name, body in members:
            if body is None:
                tar.addfile(_info(name, tarfile.DIRTYPE, 0o755))
                continue
            info = _info(name, tarfile.REGTYPE, 0o644, len(body))
            tar.addfile(info, io.BytesIO(body))
    return buf.getvalue()


def build(busybox: str, tag: str, arch: str) -> tuple[bytes, str]:
    """Return the archive bytes and the image id (the config's digest)."""
    if ":" not in tag.rpartition("/")[2]:
        tag += ":latest"
    layer = build_layer(busybox, applets(busybox))
    diff_id = "sha256:" + hashlib.sha256(layer).hexdigest()
    config = build_config(diff_id, arch)
    image_id = "sha256:" + hashlib.sha256(config).hexdigest()
    return build_archive(layer, config, tag), image_id


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out", help="where to write the docker-archive tarball")
    parser.add_argument("--busybox", default="/bin/busybox", help="static busybox")
    parser.add_argument("--tag", default="busybox:latest")
    args = parser.parse_args(argv)

    arch = ARCHES.get(platform.machine(), platform.machine())
    data, image_id = build(args.busybox, args.tag, arch)
    tmp = f"{args.out}.tmp"
    with open(tmp, "wb") as f:
        f.write(data)
    os.replace(tmp, args.out)
    print(image_id)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
