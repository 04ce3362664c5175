"""Generate Python gRPC stubs for containerd's API from Debian's .proto files.

Debian ships containerd's API definitions in golang-github-containerd-containerd-dev,
whose dependencies weigh ~540 MB; the three source packages' .debs together are about
1.5 MB, so they are downloaded and unpacked instead of installed. The files are copied
under one private package prefix (pouch/ctrd/_api) with their import strings rewritten,
so the generated modules form a clean package; proto package names, and so the wire
names, stay `containerd.*`. Stubs are generated in the environment that runs them,
since grpcio-tools stamps a minimum runtime version into them.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

DEBS = [
    "golang-github-containerd-containerd-dev",
    "golang-github-gogo-protobuf-dev",
    "golang-github-gogo-googleapis-dev",
]
GOSRC = Path("usr/share/gocode/src")
CTRD = "github.com/containerd/containerd"
PREFIX = "pouch/ctrd/_api"

# Go import path of a .proto file -> its place under PREFIX.
REMAP = [
    (f"{CTRD}/api/", f"{PREFIX}/"),
    (f"{CTRD}/protobuf/plugin/", f"{PREFIX}/plugin/"),
    (f"{CTRD}/runtime/v2/runc/options/", f"{PREFIX}/runc/options/"),
    ("github.com/gogo/protobuf/gogoproto/", f"{PREFIX}/gogoproto/"),
    ("gogoproto/", f"{PREFIX}/gogoproto/"),
]
WANTED = [
    f"{CTRD}/api/",
    f"{CTRD}/protobuf/plugin/fieldpath.proto",
    f"{CTRD}/runtime/v2/runc/options/oci.proto",
    "github.com/gogo/protobuf/gogoproto/gogo.proto",
]


def remap(path: str) -> str | None:
    for old, new in REMAP:
        if path.startswith(old):
            return new + path[len(old) :]
    return None


def fetch_debs(workdir: Path) -> Path:
    root = workdir / "root"
    root.mkdir()
    workdir.chmod(0o777)  # apt's download user must be able to write here
    subprocess.run(["apt-get", "download", *DEBS], cwd=workdir, check=True)
    for deb in workdir.glob("*.deb"):
        subprocess.run(["dpkg-deb", "-x", str(deb), str(root)], check=True)
    return root / GOSRC


def copy_protos(gosrc: Path, out: Path) -> list[Path]:
    import_re = re.compile(r'^(import\s+(?:weak\s+|public\s+)?)"([^"]+)"', re.M)

    def fix_import(match: re.Match[str]) -> str:
        return f'{match.group(1)}"{remap(match.group(2)) or match.group(2)}"'

    copied = []
    for src in sorted(gosrc.rglob("*.proto")):
        rel = src.relative_to(gosrc).as_posix()
        if "/vendor/" in rel or not any(rel.startswith(w) for w in WANTED):
            continue
        dest = out / str(remap(rel))
        dest.parent.mkdir(parents=True, exist_ok=True)
        text = import_re.sub(fix_import, src.read_text())
        # "weak" imports still become hard Python imports; make them plain.
        text = text.replace("import weak ", "import ")
        dest.write_text(text)
        copied.append(dest)
    return copied


def generate(proto_root: Path, files: list[Path], pkg_root: Path) -> None:
    import google.rpc  # googleapis-common-protos: google/rpc/status.proto
    import grpc_tools

    includes = [
        Path(grpc_tools.__file__).parent / "_proto",
        Path(google.rpc.__path__[0]).parent.parent,
    ]
    args = [
        "grpc_tools.protoc",
        f"-I{proto_root}",
        *[f"-I{inc}" for inc in includes],
        f"--python_out={pkg_root}",
        f"--grpc_python_out={pkg_root}",
        *[str(f.relative_to(proto_root)) for f in files],
    ]
    from grpc_tools import protoc

    if protoc.main(args) != 0:
        sys.exit("protoc failed")


def main() -> None:
    src_root = Path(__file__).resolve().parent.parent / "src"
    target = src_root / PREFIX
    with tempfile.TemporaryDirectory() as tmp:
        gosrc = fetch_debs(Path(tmp))
        proto_root = Path(tmp) / "proto"
        files = copy_protos(gosrc, proto_root)
        shutil.rmtree(target, ignore_errors=True)
        generate(proto_root, files, src_root)
    for d in [target, *[p for p in target.rglob("*") if p.is_dir()]]:
        (d / "__init__.py").touch()
    print(f"generated {len(files)} protos into {target}")


if __name__ == "__main__":
    main()
