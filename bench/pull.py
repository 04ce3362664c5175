"""Pull time of a multi-layer image from a registry on loopback: ``pouch``'s pull
(through pouchd's API: download, verify, store in containerd, unpack) against
``skopeo copy`` of the same image to a local directory (download and verify
only), measured in the same run against the same registry.

The image is busybox plus --layers layers of --layer-mb MiB of random data each,
gzipped, put straight into a fresh Debian ``docker-registry``. Before each pouch
run the image is removed and containerd's collector drops its blobs and
snapshots, so every run downloads everything. Prints medians and the ratio. Not
a test: nothing is asserted.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from pouch.client.streams import iter_json_messages  # noqa: E402
from tests.support.daemon import Pouchd  # noqa: E402
from tests.support.images import RegistryWriter, busybox_parts, digest, layer_tar  # noqa: E402, E501
from tests.support.registry import Registry  # noqa: E402

REPO = "bench/multi"
TAG = "v1"


def make_image(registry: Registry, layers: int, layer_mb: int) -> None:
    config, base = busybox_parts()
    extra = [
        layer_tar({f"data/blob{i}": os.urandom(layer_mb * 1024 * 1024)})
        for i in range(layers)
    ]
    config["rootfs"]["diff_ids"] = [digest(layer) for layer in [base, *extra]]
    RegistryWriter(registry.url, REPO).image(TAG, config, [base, *extra])


def pouch_pull(daemon: Pouchd, name: str, runs: int) -> list[float]:
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        stream = daemon.client.request("POST", "/images/create", {"fromImage": name})
        messages = list(iter_json_messages(stream.chunks()))
        samples.append(time.perf_counter() - started)
        failed = [m["error"] for m in messages if m.get("error")]
        if failed:
            raise SystemExit(f"pouch pull failed: {failed[0]}")
        daemon.api("DELETE", f"/images/{name}")
    return samples


def skopeo_copy(name: str, runs: int, scratch: Path) -> list[float]:
    samples = []
    for i in range(runs):
        out = scratch / f"skopeo-{i}"
        cmd = ["skopeo", "copy", "--quiet", "--src-tls-verify=false",
               f"docker://{name}", f"dir:{out}"]  # fmt: skip
        started = time.perf_counter()
        subprocess.run(cmd, check=True, capture_output=True)
        samples.append(time.perf_counter() - started)
        shutil.rmtree(out)
    return samples


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--layers", type=int, default=6)
    parser.add_argument("--layer-mb", type=int, default=8)
    args = parser.parse_args()
    if shutil.which("skopeo") is None:
        raise SystemExit("skopeo is not installed (apt-get install skopeo)")

    with tempfile.TemporaryDirectory(prefix="pouch-bench-pull-") as tmp:
        scratch = Path(tmp)
        registry = Registry(scratch / "registry").start()
        daemon = Pouchd(scratch / "home").start()
        try:
            make_image(registry, args.layers, args.layer_mb)
            name = f"{registry.host}/{REPO}:{TAG}"
            pouch = pouch_pull(daemon, name, args.runs)
            skopeo = skopeo_copy(name, args.runs, scratch)
        finally:
            daemon.stop()
            daemon.remove_bridge()
            registry.stop()
    pouch_ms = statistics.median(pouch) * 1000
    skopeo_ms = statistics.median(skopeo) * 1000
    total_mb = args.layers * args.layer_mb
    print(
        json.dumps({"image": f"busybox + {args.layers} x {args.layer_mb} MiB layers"})
    )
    print(f"pouch pull (download, verify, unpack)  median {pouch_ms:8.1f} ms")
    print(f"skopeo copy to dir: (download, verify) median {skopeo_ms:8.1f} ms")
    ratio = pouch_ms / skopeo_ms
    print(f"ratio pouch/skopeo {ratio:.2f}  ({total_mb} MiB, {args.runs} runs)")


if __name__ == "__main__":
    main()
