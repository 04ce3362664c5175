"""The OCI runtime spec built from a container's create config and its image config.
Pure functions: no I/O beyond reading the image's passwd and group files."""

from pouch.oci.spec import SpecInput, build_spec

__all__ = ["SpecInput", "build_spec"]
