"""The example plugin: a line at each of the five points, and one prestart hook.

Run it with ``pouchd --plugin examples/hook_plugin.py``. Starting a container then
touches /tmp/pre_start_hook from an OCI prestart hook that runs after the network
is set up (priority -4, below the network hook's 0).
"""


class DaemonPlugin:
    def pre_start_hook(self):
        print("pre-start hook in daemon is called")

    def pre_stop_hook(self):
        print("pre-stop hook in daemon is called")


class ContainerPlugin:
    def pre_create(self, body):
        print("pre create method called")
        return body

    def pre_start(self, container):
        print("pre start method called")
        # Negative priority: run after the container's network is set up.
        return [-4], [["/usr/bin/touch", "touch", "/tmp/pre_start_hook"]]

    def pre_create_endpoint(self, container_id, env):
        print("pre create endpoint")
        return 0, False, {}
