"""Talking to image registries (the distribution protocol, v2).

``config`` says where a registry's name leads (mirrors, plain HTTP, CA files),
``auth`` holds credentials and answers challenges, ``client`` moves manifests and
blobs over HTTP with aiohttp, ``progress`` words Docker's streamed messages, and
``pull`` and ``push`` run the transfers.

Nothing here knows containerd: ``pouch.ctrd.transfer`` implements ``store.Store``
for it. From ``pouch.ctrd`` only pure modules are imported: ``imagespec``,
``reference``, and ``layercheck`` for its error.
"""
