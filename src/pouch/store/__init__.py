"""Metadata in SQLite under the home dir: containers and volumes (the network layer
keeps its own ``net_*`` tables in the same file). Written before the API answers."""
