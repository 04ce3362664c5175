"""pouch: a container engine on containerd with a plugin framework.

Packages, top calls down, never up:

- ``cli`` and ``client``: the ``pouch`` command and its HTTP client; never import
  daemon code.
- ``daemon``: start-up and shutdown order of ``pouchd``.
- ``apis``: HTTP routes in the Docker Engine API's shapes, error mapping.
- ``mgr``: containers and images, their rules, states and locks.
- ``ctrd``, ``oci``, ``network``, ``store``, ``hookplugins``: the layers ``mgr`` uses.
"""

__version__ = "0.1.0"
API_VERSION = "1.43"
MIN_API_VERSION = "1.24"
