"""The ``pouch`` command line: one click command per docker verb, output as docker's."""
