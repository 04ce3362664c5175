"""Container networking: the bridge driver, address allocation, veth wiring through
the ``libnetwork-setkey`` prestart hook, NAT, and the resolv.conf and hosts files.

Only ``mgr`` and ``daemon`` import from here.
"""
