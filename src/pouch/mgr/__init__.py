"""The rules: containers and images, their names, states, transitions and locks.

Called by ``apis``; calls ``ctrd``, ``oci``, ``network``, ``store`` and
``hookplugins`` through the small interfaces in ``ports``, and translates their errors
into ``pouch.errors``.
"""
