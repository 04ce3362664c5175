"""The daemon's typed errors. ``apis`` maps each to one HTTP status, in one place.

    PouchError                 500  anything unexpected
    ├── InvalidParameter       400  bad input: the message names the field and rule
    ├── Unauthorized           401  a registry refused or wants credentials
    ├── NotFound               404  no such container, image or network
    ├── Conflict               409  name in use, running container, busy resource
    └── PluginError            500  a plugin failed at a point that fails the call

Lower layers (``ctrd``, ``network``) raise their own errors; ``mgr`` translates them
with ``raise ... from`` so the cause stays in the log.
"""


class PouchError(Exception):
    status = 500


class InvalidParameter(PouchError):
    status = 400


class Unauthorized(PouchError):
    """A registry refused the credentials given, or asked for some."""

    status = 401


class NotFound(PouchError):
    status = 404


class Conflict(PouchError):
    status = 409


class NotModified(PouchError):
    status = 304


class PluginError(PouchError):
    """A plugin raised at a point whose failure fails the operation."""

    status = 500

    def __init__(self, plugin: str, point: str, cause: BaseException) -> None:
        super().__init__(f"plugin {plugin} failed at {point}: {cause!r}")
        self.plugin = plugin
        self.point = point
