"""iptables rules for bridge networks, kept in chains of our own.

Rules live in ``POUCH-POSTROUTING`` (nat) and ``POUCH-FORWARD`` (filter), reached by
one jump each from the built-in chains, so ``iptables -S POUCH-FORWARD`` shows all we
added and removing them never touches anyone else's. Every rule is checked with
``-C`` before it is added and before it is deleted, so each call is idempotent and a
daemon restart adds no duplicates. ``-w`` waits for the xtables lock that other
programs may hold.
"""

import asyncio
import logging
import shutil

from pouch.network.errors import NetworkError

log = logging.getLogger("pouch.network")

NAT_CHAIN = "POUCH-POSTROUTING"
FILTER_CHAIN = "POUCH-FORWARD"
# Isolation between bridge networks, in two stages as Docker does it: the first
# sends traffic that leaves a bridge for elsewhere to the second, which drops it if
# that elsewhere is another of our bridges.
ISOLATION_1 = "POUCH-ISOLATION-1"
ISOLATION_2 = "POUCH-ISOLATION-2"

# (table, our chain, built-in chain it hangs from)
_CHAINS = (("nat", NAT_CHAIN, "POSTROUTING"), ("filter", FILTER_CHAIN, "FORWARD"))


class IptablesError(NetworkError):
    pass


def _iptables() -> str:
    # Hooks and daemons may run with a bare PATH; fall back to Debian's location.
    return shutil.which("iptables") or "/usr/sbin/iptables"


async def iptables(*args: str) -> tuple[int, str, str]:
    """Run iptables; return its exit status, stdout and stderr."""
    proc = await asyncio.create_subprocess_exec(
        _iptables(),
        "-w",
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await proc.communicate()
    return (
        proc.returncode or 0,
        out.decode(errors="replace"),
        err.decode(errors="replace").strip(),
    )


async def _must(*args: str) -> None:
    code, _, err = await iptables(*args)
    if code != 0:
        raise IptablesError(f"iptables {' '.join(args)} failed: {err}")


async def ensure_rule(
    table: str, chain: str, rule: list[str], *, first: bool = False
) -> None:
    """Append ``rule`` unless it is there; ``first`` inserts it at the top instead."""
    if (await iptables("-t", table, "-C", chain, *rule))[0] != 0:
        where = ["-I", chain, "1"] if first else ["-A", chain]
        log.debug("iptables -t %s %s %s", table, " ".join(where), " ".join(rule))
        await _must("-t", table, *where, *rule)


async def delete_rule(table: str, chain: str, rule: list[str]) -> None:
    while (await iptables("-t", table, "-C", chain, *rule))[0] == 0:
        log.debug("iptables -t %s -D %s %s", table, chain, " ".join(rule))
        await _must("-t", table, "-D", chain, *rule)


async def chain_exists(table: str, chain: str) -> bool:
    return (await iptables("-t", table, "-S", chain))[0] == 0


async def ensure_chains() -> None:
    """Create our chains and the jumps into them."""
    for table, chain, parent in _CHAINS:
        await _ensure_chain(table, chain)
        if (await iptables("-t", table, "-C", parent, "-j", chain))[0] != 0:
            # First in FORWARD, so a host's DROP rules do not shadow ours.
            await _must("-t", table, "-I", parent, "1", "-j", chain)
    await _ensure_chain("filter", ISOLATION_2)
    await _ensure_chain("filter", ISOLATION_1)
    await ensure_rule("filter", FILTER_CHAIN, ["-j", ISOLATION_1], first=True)


async def _ensure_chain(table: str, chain: str) -> None:
    if not await chain_exists(table, chain):
        code, _, err = await iptables("-t", table, "-N", chain)
        # Another daemon on the host may have made it meanwhile.
        if code != 0 and not await chain_exists(table, chain):
            raise IptablesError(f"iptables -t {table} -N {chain} failed: {err}")


async def remove_chains() -> None:
    """Remove our chains, their rules and the jumps into them."""
    await delete_rule("filter", FILTER_CHAIN, ["-j", ISOLATION_1])
    for chain in (ISOLATION_1, ISOLATION_2):
        if await chain_exists("filter", chain):
            await _must("-t", "filter", "-F", chain)
    for chain in (ISOLATION_1, ISOLATION_2):
        if await chain_exists("filter", chain):
            await _must("-t", "filter", "-X", chain)
    for table, chain, parent in _CHAINS:
        await delete_rule(table, parent, ["-j", chain])
        if await chain_exists(table, chain):
            await _must("-t", table, "-F", chain)
            await _must("-t", table, "-X", chain)


def bridge_rules(
    bridge: str, subnet: str, internal: bool
) -> list[tuple[str, str, list[str]]]:
    """The rules one bridge network needs, as (table, chain, rule).

    An ordinary network masquerades its subnet out of any other interface and
    forwards freely; an internal one only talks across its own bridge.
    """
    isolation = [
        ("filter", ISOLATION_1, ["-i", bridge, "!", "-o", bridge, "-j", ISOLATION_2]),
        ("filter", ISOLATION_2, ["-o", bridge, "-j", "DROP"]),
    ]
    if internal:
        return isolation + [
            ("filter", FILTER_CHAIN, ["-i", bridge, "-o", bridge, "-j", "ACCEPT"]),
            ("filter", FILTER_CHAIN, ["-i", bridge, "!", "-o", bridge, "-j", "DROP"]),
            ("filter", FILTER_CHAIN, ["!", "-i", bridge, "-o", bridge, "-j", "DROP"]),
        ]
    masquerade = ["-s", subnet, "!", "-o", bridge, "-j", "MASQUERADE"]
    established = ["-m", "conntrack", "--ctstate", "RELATED,ESTABLISHED"]
    return isolation + [
        ("nat", NAT_CHAIN, masquerade),
        ("filter", FILTER_CHAIN, ["-i", bridge, "-j", "ACCEPT"]),
        ("filter", FILTER_CHAIN, ["-o", bridge, *established, "-j", "ACCEPT"]),
    ]


async def add_bridge_rules(bridge: str, subnet: str, internal: bool) -> None:
    await ensure_chains()
    # An internal network's rules go first, so no other network's ACCEPT lets
    # traffic past its DROPs.
    for table, chain, rule in bridge_rules(bridge, subnet, internal):
        await ensure_rule(table, chain, rule, first=internal)
    log.info("nat rules for bridge %s (%s) in place", bridge, subnet)


async def remove_bridge_rules(bridge: str, subnet: str, internal: bool) -> None:
    for table, chain, rule in bridge_rules(bridge, subnet, internal):
        await delete_rule(table, chain, rule)
    log.info("nat rules for bridge %s (%s) removed", bridge, subnet)


async def list_rules() -> list[str]:
    """Our chains' rules in ``iptables -S`` form, for people and for leak checks."""
    rules: list[str] = []
    chains = [*_CHAINS, ("filter", ISOLATION_1, ""), ("filter", ISOLATION_2, "")]
    for table, chain, _ in chains:
        code, out, _ = await iptables("-t", table, "-S", chain)
        if code == 0:
            rules += [f"-t {table} {r}" for r in out.splitlines() if r.startswith("-A")]
    return rules


async def enable_ip_forward() -> None:
    """Containers on a bridge reach the outside only if the host routes for them."""
    path = "/proc/sys/net/ipv4/ip_forward"
    with open(path) as f:
        if f.read().strip() == "1":
            return
    with open(path, "w") as f:
        f.write("1\n")
    log.info("net.ipv4.ip_forward set to 1")
