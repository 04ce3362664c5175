"""The container store: one SQLite file in WAL mode, one row per container.

A row holds the container's document as JSON beside the columns we look it up by (id,
name). Every write commits before returning, so what the API has answered survives a
crash of the daemon.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

SCHEMA = """
CREATE TABLE IF NOT EXISTS containers (
    id   TEXT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    doc  TEXT NOT NULL
);
"""


class NameInUse(Exception):
    """Another container holds the name."""


def connect(path: Path, schema: str) -> sqlite3.Connection:
    """The database file in WAL mode, each statement its own committed transaction,
    with ``schema``'s tables made if missing."""
    db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=NORMAL")
    db.executescript(schema)
    return db


class Store:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._db = connect(path, SCHEMA)

    def close(self) -> None:
        self._db.close()

    def put(self, cid: str, name: str, doc: dict[str, Any]) -> None:
        """Insert or replace a container's row; a name held by another raises."""
        try:
            self._db.execute(
                "INSERT INTO containers (id, name, doc) VALUES (?, ?, ?) "
                "ON CONFLICT(id) DO UPDATE SET "
                "name = excluded.name, doc = excluded.doc",
                (cid, name, json.dumps(doc)),
            )
        except sqlite3.IntegrityError as exc:
            raise NameInUse(name) from exc

    def delete(self, cid: str) -> None:
        self._db.execute("DELETE FROM containers WHERE id = ?", (cid,))

    def get(self, cid: str) -> dict[str, Any] | None:
        row = self._db.execute("SELECT doc FROM containers WHERE id = ?", (cid,))
        found = row.fetchone()
        return json.loads(found[0]) if found else None

    def id_by_name(self, name: str) -> str | None:
        row = self._db.execute("SELECT id FROM containers WHERE name = ?", (name,))
        found = row.fetchone()
        return str(found[0]) if found else None

    def ids_with_prefix(self, prefix: str) -> list[str]:
        rows = self._db.execute(
            "SELECT id FROM containers WHERE id >= ? AND id < ?",
            (prefix, prefix + "\uffff"),
        )
        return [str(r[0]) for r in rows]

    def all(self) -> Iterator[dict[str, Any]]:
        for (doc,) in self._db.execute("SELECT doc FROM containers"):
            yield json.loads(doc)
