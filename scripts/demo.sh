#!/usr/bin/env bash
# The main job on an embedded default: pouchd with the example plugin, one container,
# and what each plugin point did. Runs in a throwaway home dir and cleans up after.
set -euo pipefail
cd "$(dirname "$0")/.."
PATH="$PWD/.venv/bin:$PATH"

work=$(mktemp -d /tmp/pouch-demo.XXXXXX)
home="$work/home"
log="$work/pouchd.log"
export POUCH_HOST="unix://$work/pouchd.sock"
bridge=pdemo0
daemon_pid=""

cleanup() {
  set +e
  if [ -n "$daemon_pid" ] && kill -0 "$daemon_pid" 2>/dev/null; then
    pouch rm -f demo >/dev/null 2>&1
    kill -TERM "$daemon_pid"; wait "$daemon_pid"
  fi
  ip link del "$bridge" 2>/dev/null
  .venv/bin/python -c 'import asyncio, sys; from pouch.network import nat
asyncio.run(nat.remove_bridge_rules(sys.argv[1], sys.argv[2], False))' \
    "$bridge" 10.250.99.0/24 2>/dev/null
  rm -rf "$work" /tmp/pre_start_hook
}
trap cleanup EXIT

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

rm -f /tmp/pre_start_hook
step "pouchd --plugin examples/hook_plugin.py (home dir $home)"
pouchd --home-dir "$home" -l "$POUCH_HOST" --plugin examples/hook_plugin.py \
  --bridge-name "$bridge" --bip 10.250.99.1/24 --config-file /dev/null \
  >"$log" 2>&1 &
daemon_pid=$!
for _ in $(seq 100); do pouch version >/dev/null 2>&1 && break; sleep 0.2; done

step "pouch load -i build/images/busybox.tar"
pouch load -i build/images/busybox.tar

step "pouch run -d --name demo busybox sleep 300"
cid=$(pouch run -d --name demo busybox sleep 300)
echo "$cid"
pouch ps

step "hooks.prestart in the container's OCI config.json"
config="$home/containerd/state/io.containerd.runtime.v2.task/default/$cid/config.json"
.venv/bin/python -c 'import json,sys; print(json.dumps(json.load(open(sys.argv[1]))["hooks"]["prestart"], indent=2))' "$config"

step "the prestart hook with priority -4 ran after the network hook"
ls -l /tmp/pre_start_hook

step "pouch rm -f demo; graceful stop of pouchd (SIGTERM)"
pouch rm -f demo
kill -TERM "$daemon_pid"; wait "$daemon_pid"; daemon_pid=""

step "the plugin's lines in the daemon log"
grep -E "pre-start hook in daemon is called|pre create method called|pre create endpoint|pre start method called|pre-stop hook in daemon is called" "$log"
