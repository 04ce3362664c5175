"""Container networking: the bridge driver, address allocation, veth wiring through
the ``libnetwork-setkey`` prestart hook, NAT, and the resolv.conf and hosts files.

Only ``mgr`` and ``daemon`` import from here.

- ``controller``: ``NetworkController``, the one object ``mgr`` talks to.
- ``setkey``: the prestart hook (stdlib only, it runs on every start) and the
  daemon's socket that answers it.
- ``models``, ``errors``: the records and errors handed across the boundary.
- ``ipam`` (pure), ``state`` (SQLite tables ``net_*``), ``links`` (netlink),
  ``nat`` (iptables), ``files`` (resolv.conf, hosts, hostname): the controller's
  parts; ``mgr`` does not import them.
"""
