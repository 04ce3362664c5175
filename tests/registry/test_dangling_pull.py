"""A pull that moves a tag leaves the image it moved from dangling, as dockerd does."""

from __future__ import annotations

import json

from tests.registry.conftest import errors, pull
from tests.support.daemon import Pouchd
from tests.support.images import RegistryWriter, busybox_parts, digest, layer_tar
from tests.support.registry import Registry


def _upload(registry: Registry, text: str) -> str:
    """busybox with one more layer, as dangle/pulled:v1; its image id."""
    config, base = busybox_parts()
    layer = layer_tar({"marker": text.encode()})
    config["rootfs"]["diff_ids"] += [digest(layer)]
    RegistryWriter(registry.url, "dangle/pulled").image("v1", config, [base, layer])
    return digest(json.dumps(config).encode())


def test_a_pull_that_moves_a_tag_leaves_the_old_image_dangling(
    daemon: Pouchd, registry: Registry
) -> None:
    name = f"{registry.host}/dangle/pulled:v1"
    old = _upload(registry, "old")
    assert errors(pull(daemon, name)) == []
    new = _upload(registry, "new")
    assert errors(pull(daemon, name)) == []

    assert daemon.api("GET", f"/images/{name}/json")["Id"] == new
    image = daemon.api("GET", f"/images/{old}/json")
    assert (image["RepoTags"], image["RepoDigests"]) == ([], [])
    dangling = daemon.api("GET", "/images/json", filters='{"dangling": ["true"]}')
    assert [i["Id"] for i in dangling] == [old]

    assert daemon.api("DELETE", f"/images/{old[7:19]}") == [{"Deleted": old}]
    daemon.api("DELETE", f"/images/{name}")
