"""What containerd's own applier does with layers that escape their root, and
that ours refuses them before it runs.

Diff.Apply is called here directly, without our check, on a fresh snapshot: the
test records which crafted entries containerd refuses by itself and shows that
none of them writes outside the snapshot. Then the same layers through
``ImageService`` (with the check) are refused with the entry named.
"""

from __future__ import annotations

import io
import secrets
import tarfile
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from pouch.ctrd.client import SNAPSHOTTER, Containerd
from pouch.ctrd.errors import ContainerdError
from pouch.ctrd.images import _descriptor_pb
from pouch.ctrd.imagespec import DOCKER_LAYER, Descriptor, sha256_digest
from pouch.ctrd.layercheck import LayerEscape
from pouch.ctrd.pb import diff_pb2, snapshots_pb2
from tests.support.images import add_escape, paths_named

from .conftest import Run


def _layer(kind: str, marker: str) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        add_escape(tar, kind, marker)
    return buf.getvalue()


async def _write(client: Containerd, data: bytes, lease: str) -> Descriptor:
    """The blob, held by ``lease``: the collector may run at any time."""
    desc = Descriptor(DOCKER_LAYER, sha256_digest(data), len(data))

    async def chunks() -> Any:
        yield data

    await client._images.content.write(desc, chunks(), labels={}, lease=lease)
    return desc


async def _apply_unchecked(client: Containerd, desc: Descriptor) -> str:
    """Diff.Apply on a fresh snapshot; "" if containerd applied it, else its error."""
    conn = client._images.conn
    key = f"escape-{secrets.token_hex(4)}"
    prepared = await conn.call(
        "prepare",
        conn.stubs.snapshots.Prepare,
        snapshots_pb2.PrepareSnapshotRequest(snapshotter=SNAPSHOTTER, key=key),
    )
    try:
        await conn.call(
            "apply",
            conn.stubs.diff.Apply,
            diff_pb2.ApplyRequest(diff=_descriptor_pb(desc), mounts=prepared.mounts),
        )
        return ""
    except ContainerdError as err:
        return str(err)
    finally:
        await client._images._remove_snapshot(key)


@pytest.mark.parametrize("kind", ["dotdot", "absolute", "hardlink", "symlink"])
def test_containerd_applier_keeps_writes_inside_and_we_refuse_first(
    client: Containerd, home: Path, run: Run[Any], kind: str
) -> None:
    marker = f"pouch-escape-{uuid.uuid4().hex[:8]}"
    leases = client._images.leases
    lease = run(leases.create("escape-test", timedelta(minutes=10)))
    try:
        desc = run(_write(client, _layer(kind, marker), lease))
        refused = run(_apply_unchecked(client, desc))
        with pytest.raises(LayerEscape, match="refused"):
            chain = "sha256:" + "0" * 64
            run(client._images._apply_layer(desc, chain, "x", "", lease))
    finally:
        run(leases.delete(lease))
    # containerd refuses hard links that leave the root; the others it keeps
    # inside the snapshot by resolving names within it.
    assert bool(refused) == (kind == "hardlink"), refused
    assert not Path(f"/tmp/{marker}").exists()
    assert not Path(f"/{marker}").exists()
    assert not [p for p in paths_named(home, marker) if "/fs/" not in str(p)]
