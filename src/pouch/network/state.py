"""The network layer's tables in the daemon's SQLite database.

Each address is a row in ``net_allocations`` whose primary key is (network, address),
and it is written in the same transaction as its endpoint. The pool is rebuilt from
those rows under ``BEGIN IMMEDIATE`` each time, so an address in use is never handed
out again, whether it was taken by this process, a previous life of the daemon, or
another connection to the same file.
"""

import json
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from ipaddress import IPv4Address
from pathlib import Path
from typing import Any

from pouch.network import ipam
from pouch.network.errors import (
    EndpointExists,
    NetworkExists,
    NetworkNotFound,
    PortInUse,
)
from pouch.network.models import Endpoint, Network, NetworkDriver, PortRecord

SCHEMA = """
CREATE TABLE IF NOT EXISTS net_networks (
    id           TEXT PRIMARY KEY,
    name         TEXT NOT NULL UNIQUE,
    driver       TEXT NOT NULL,
    bridge       TEXT,
    subnet       TEXT,
    gateway      TEXT,
    internal     INTEGER NOT NULL DEFAULT 0,
    labels       TEXT NOT NULL DEFAULT '{}',
    options      TEXT NOT NULL DEFAULT '{}',
    created      TEXT NOT NULL,
    last_address TEXT
);
CREATE TABLE IF NOT EXISTS net_endpoints (
    id               TEXT PRIMARY KEY,
    network_id       TEXT NOT NULL REFERENCES net_networks(id),
    container_id     TEXT NOT NULL,
    seq              INTEGER NOT NULL,
    ip               TEXT,
    prefix_len       INTEGER NOT NULL DEFAULT 0,
    gateway          TEXT,
    mac              TEXT,
    priority         INTEGER NOT NULL DEFAULT 0,
    disable_resolver INTEGER NOT NULL DEFAULT 0,
    generic_params   TEXT NOT NULL DEFAULT '{}',
    aliases          TEXT NOT NULL DEFAULT '[]',
    host_veth        TEXT,
    UNIQUE (container_id, network_id)
);
CREATE INDEX IF NOT EXISTS net_endpoints_container ON net_endpoints(container_id);
CREATE TABLE IF NOT EXISTS net_ports (
    container_id   TEXT NOT NULL,
    proto          TEXT NOT NULL,
    host_ip        TEXT NOT NULL,
    host_port      INTEGER NOT NULL,
    container_ip   TEXT NOT NULL,
    container_port INTEGER NOT NULL,
    bridge         TEXT NOT NULL,
    PRIMARY KEY (proto, host_ip, host_port)
);
CREATE TABLE IF NOT EXISTS net_allocations (
    network_id  TEXT NOT NULL REFERENCES net_networks(id),
    address     TEXT NOT NULL,
    endpoint_id TEXT NOT NULL REFERENCES net_endpoints(id),
    PRIMARY KEY (network_id, address)
);
"""

# Columns added after the first schema, with their declarations; ``_migrate`` adds
# the ones an older database lacks.
_ADDED_COLUMNS = (
    ("net_networks", "ip_range", "TEXT"),
    ("net_endpoints", "ifname", "TEXT"),
)

_ENDPOINT_COLUMNS = (
    "e.id, e.network_id, n.name, e.container_id, e.ip, e.prefix_len, e.gateway, "
    "e.mac, e.priority, e.disable_resolver, e.generic_params, e.aliases, "
    "e.host_veth, e.seq, e.ifname"
)


@dataclass(frozen=True)
class EndpointRequest:
    """What ``add_endpoint`` needs besides the network; the address is chosen there."""

    id: str
    container_id: str
    priority: int
    disable_resolver: bool
    generic_params: dict[str, Any]
    aliases: list[str]
    mac: str | None
    host_veth: str | None


class NetworkState:
    def __init__(self, db_path: Path) -> None:
        # Autocommit mode: transactions are opened explicitly, IMMEDIATE, so the
        # write lock is held from the first read of the pool to the commit.
        self._db = sqlite3.connect(
            db_path, isolation_level=None, check_same_thread=False, timeout=10.0
        )
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA foreign_keys=ON")
        self._db.executescript(SCHEMA)
        self._migrate()

    def _migrate(self) -> None:
        for table, column, declaration in _ADDED_COLUMNS:
            present = {
                row[1] for row in self._db.execute(f"PRAGMA table_info({table})")
            }
            if column not in present:
                self._db.execute(
                    f"ALTER TABLE {table} ADD COLUMN {column} {declaration}"
                )

    def close(self) -> None:
        self._db.close()

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield self._db
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    # Networks.

    def add_network(self, network: Network) -> None:
        try:
            with self._transaction() as db:
                db.execute(
                    "INSERT INTO net_networks (id, name, driver, bridge, subnet, "
                    "gateway, internal, labels, options, created, ip_range) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        network.id,
                        network.name,
                        network.driver.value,
                        network.bridge,
                        network.subnet,
                        network.gateway,
                        int(network.internal),
                        json.dumps(network.labels),
                        json.dumps(network.options),
                        network.created or _now(),
                        network.ip_range,
                    ),
                )
        except sqlite3.IntegrityError as e:
            raise NetworkExists(network.name) from e

    def remove_network(self, network_id: str) -> None:
        with self._transaction() as db:
            db.execute("DELETE FROM net_networks WHERE id = ?", (network_id,))

    def networks(self) -> list[Network]:
        rows = self._db.execute(
            "SELECT id, name, driver, bridge, subnet, gateway, internal, labels, "
            "options, created, ip_range FROM net_networks ORDER BY created, name"
        ).fetchall()
        return [_network(row) for row in rows]

    def find_network(self, name_or_id: str) -> Network:
        """By exact name, then exact id, then unique id prefix, as Docker looks up."""
        networks = self.networks()
        for match in (
            [n for n in networks if n.name == name_or_id],
            [n for n in networks if n.id == name_or_id],
            [n for n in networks if name_or_id and n.id.startswith(name_or_id)],
        ):
            if len(match) == 1:
                return match[0]
        raise NetworkNotFound(name_or_id)

    # Endpoints and their addresses.

    def add_endpoint(
        self, network: Network, request: EndpointRequest, ip: IPv4Address | None
    ) -> Endpoint:
        """Record an endpoint and, on an IP network, its address, in one transaction.

        ``ip`` is the address asked for, or ``None`` for the next free one.
        """
        try:
            with self._transaction() as db:
                address, prefix_len = self._allocate(db, network, ip)
                mac = request.mac
                if mac is None and address is not None:
                    mac = ipam.mac_for(address)
                seq = db.execute(
                    "SELECT COALESCE(MAX(seq), 0) + 1 FROM net_endpoints"
                ).fetchone()[0]
                db.execute(
                    "INSERT INTO net_endpoints (id, network_id, container_id, seq, "
                    "ip, prefix_len, gateway, mac, priority, disable_resolver, "
                    "generic_params, aliases, host_veth) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        request.id,
                        network.id,
                        request.container_id,
                        seq,
                        None if address is None else str(address),
                        prefix_len,
                        network.gateway if address is not None else None,
                        mac,
                        request.priority,
                        int(request.disable_resolver),
                        json.dumps(request.generic_params),
                        json.dumps(request.aliases),
                        request.host_veth,
                    ),
                )
                if address is not None:
                    db.execute(
                        "INSERT INTO net_allocations (network_id, address, "
                        "endpoint_id) VALUES (?, ?, ?)",
                        (network.id, str(address), request.id),
                    )
        except sqlite3.IntegrityError as e:
            raise EndpointExists(
                f"container {request.container_id} already has an endpoint "
                f"on network {network.name}"
            ) from e
        return self.endpoint(request.id)

    def _allocate(
        self, db: sqlite3.Connection, network: Network, ip: IPv4Address | None
    ) -> tuple[IPv4Address | None, int]:
        if network.subnet is None:
            return None, 0
        subnet = ipam.parse_subnet(network.subnet)
        gateway = None if network.gateway is None else IPv4Address(network.gateway)
        in_use = [
            IPv4Address(row[0])
            for row in db.execute(
                "SELECT address FROM net_allocations WHERE network_id = ?",
                (network.id,),
            )
        ]
        last = db.execute(
            "SELECT last_address FROM net_networks WHERE id = ?", (network.id,)
        ).fetchone()[0]
        pool = ipam.AddressPool(
            subnet,
            gateway,
            in_use,
            None if last is None else IPv4Address(last),
            None if network.ip_range is None else ipam.parse_subnet(network.ip_range),
        )
        address = pool.request(ip)
        db.execute(
            "UPDATE net_networks SET last_address = ? WHERE id = ?",
            (str(address), network.id),
        )
        return address, subnet.prefixlen

    def set_ifnames(self, names: dict[str, str]) -> None:
        """Record the interface name each endpoint got inside its container."""
        with self._transaction() as db:
            for endpoint_id, ifname in names.items():
                db.execute(
                    "UPDATE net_endpoints SET ifname = ? WHERE id = ?",
                    (ifname, endpoint_id),
                )

    def remove_endpoint(self, endpoint_id: str) -> None:
        with self._transaction() as db:
            db.execute(
                "DELETE FROM net_allocations WHERE endpoint_id = ?", (endpoint_id,)
            )
            db.execute("DELETE FROM net_endpoints WHERE id = ?", (endpoint_id,))

    def all_endpoints(self) -> list[Endpoint]:
        return self._select_endpoints(self._db, "1 = ?", (1,))

    def remove_endpoints(self, container_id: str) -> list[Endpoint]:
        """Delete a container's endpoints and free their addresses."""
        with self._transaction() as db:
            removed = self._select_endpoints(db, "e.container_id = ?", (container_id,))
            for endpoint in removed:
                db.execute(
                    "DELETE FROM net_allocations WHERE endpoint_id = ?", (endpoint.id,)
                )
                db.execute("DELETE FROM net_endpoints WHERE id = ?", (endpoint.id,))
        return removed

    def endpoint(self, endpoint_id: str) -> Endpoint:
        return self._select_endpoints(self._db, "e.id = ?", (endpoint_id,))[0]

    def endpoints(self, container_id: str) -> list[Endpoint]:
        return self._select_endpoints(self._db, "e.container_id = ?", (container_id,))

    def network_endpoints(self, network_id: str) -> list[Endpoint]:
        return self._select_endpoints(self._db, "e.network_id = ?", (network_id,))

    def allocations(self, network_id: str) -> set[str]:
        rows = self._db.execute(
            "SELECT address FROM net_allocations WHERE network_id = ?", (network_id,)
        )
        return {row[0] for row in rows}

    # Published ports.

    def add_ports(self, ports: list[PortRecord]) -> None:
        """Record a container's published ports; a host port taken by another
        container's row is refused, whoever asks."""
        try:
            with self._transaction() as db:
                for p in ports:
                    db.execute(
                        "INSERT INTO net_ports (container_id, proto, host_ip, "
                        "host_port, container_ip, container_port, bridge) "
                        "VALUES (?, ?, ?, ?, ?, ?, ?)",
                        (
                            p.container_id,
                            p.proto,
                            p.host_ip,
                            p.host_port,
                            p.container_ip,
                            p.container_port,
                            p.bridge,
                        ),
                    )
        except sqlite3.IntegrityError as e:
            raise PortInUse(f"a host port of {ports} is already published") from e

    def ports(self, container_id: str | None = None) -> list[PortRecord]:
        query = (
            "SELECT container_id, proto, host_ip, host_port, container_ip, "
            "container_port, bridge FROM net_ports"
        )
        if container_id is None:
            rows = self._db.execute(query).fetchall()
        else:
            rows = self._db.execute(
                query + " WHERE container_id = ?", (container_id,)
            ).fetchall()
        return [PortRecord(*row) for row in rows]

    def remove_ports(self, container_id: str) -> None:
        with self._transaction() as db:
            db.execute("DELETE FROM net_ports WHERE container_id = ?", (container_id,))

    def _select_endpoints(
        self, db: sqlite3.Connection, where: str, args: tuple[object, ...]
    ) -> list[Endpoint]:
        rows = db.execute(
            f"SELECT {_ENDPOINT_COLUMNS} FROM net_endpoints e "
            f"JOIN net_networks n ON n.id = e.network_id WHERE {where} ORDER BY e.seq",
            args,
        ).fetchall()
        return [_endpoint(row) for row in rows]


def _now() -> str:
    return datetime.now(UTC).isoformat()


def _network(row: tuple[Any, ...]) -> Network:
    return Network(
        id=row[0],
        name=row[1],
        driver=NetworkDriver(row[2]),
        bridge=row[3],
        subnet=row[4],
        gateway=row[5],
        internal=bool(row[6]),
        labels=json.loads(row[7]),
        options=json.loads(row[8]),
        created=row[9],
        ip_range=row[10],
    )


def _endpoint(row: tuple[Any, ...]) -> Endpoint:
    # The interface name is chosen at join, by the order of the container's
    # endpoints (see ``controller.name_interfaces``), and recorded then.
    return Endpoint(
        id=row[0],
        network_id=row[1],
        network_name=row[2],
        container_id=row[3],
        ip=row[4],
        prefix_len=row[5],
        gateway=row[6],
        mac=row[7],
        priority=row[8],
        disable_resolver=bool(row[9]),
        generic_params=json.loads(row[10]),
        aliases=json.loads(row[11]),
        ifname=row[14],
        host_veth=row[12],
        seq=row[13],
        plugged=row[14] is not None,
    )
