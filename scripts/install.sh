#!/usr/bin/env bash
# Installs everything pouchd, its demo and its tests need, from nothing, as root on
# Debian 12: system packages, the virtual environment at .venv/, the containerd gRPC
# stubs and the busybox test image. Safe to run again; it skips what is already there.
set -euo pipefail
cd "$(dirname "$0")/.."

# gcc and libc6-dev build the static UDP echo server that the port tests run.
debs=(containerd runc busybox-static iptables iproute2 procps docker-registry skopeo apache2-utils openssl gcc libc6-dev)
missing=()
for pkg in "${debs[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "ok installed" || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing Debian packages: ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi

if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
  .venv/bin/pip install -q -U pip
fi
.venv/bin/pip install -q -e '.[dev]'

if [ ! -f src/pouch/ctrd/_api/services/tasks/v1/tasks_pb2_grpc.py ]; then
  .venv/bin/python scripts/gen_protos.py >/dev/null
fi

mkdir -p build/images
if [ ! -f build/images/busybox.tar ]; then
  .venv/bin/python scripts/build_busybox_image.py build/images/busybox.tar
fi
