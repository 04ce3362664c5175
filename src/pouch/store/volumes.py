"""The volume table: one row per volume, in the same SQLite file as the containers.

A row holds the volume's record as JSON under its name. Like the container store,
every write commits before returning, so a volume the API has answered for is
still there after a crash of the daemon.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from pouch.store.db import connect

SCHEMA = """
CREATE TABLE IF NOT EXISTS volumes (
    name TEXT PRIMARY KEY,
    doc  TEXT NOT NULL
);
"""


class VolumeStore:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._db = connect(path, SCHEMA)

    def close(self) -> None:
        self._db.close()

    def put(self, name: str, doc: dict[str, Any]) -> None:
        self._db.execute(
            "INSERT INTO volumes (name, doc) VALUES (?, ?) "
            "ON CONFLICT(name) DO UPDATE SET doc = excluded.doc",
            (name, json.dumps(doc)),
        )

    def delete(self, name: str) -> None:
        self._db.execute("DELETE FROM volumes WHERE name = ?", (name,))

    def get(self, name: str) -> dict[str, Any] | None:
        row = self._db.execute("SELECT doc FROM volumes WHERE name = ?", (name,))
        found = row.fetchone()
        return json.loads(found[0]) if found else None

    def all(self) -> Iterator[dict[str, Any]]:
        for (doc,) in self._db.execute("SELECT doc FROM volumes ORDER BY name"):
            yield json.loads(doc)
