"""The embedded DNS server's answers, without a container: names we know get A
records, others go to the host's resolvers (a fake one on loopback here)."""

import asyncio
from pathlib import Path

from dnslib import QTYPE, RCODE, RR, A, DNSRecord

from pouch.network.dns import DnsService, host_nameservers

UPSTREAM = "127.0.0.99"


def lookup(container_id: str, name: str) -> list[str] | None:
    if (container_id, name) == ("c1", "web"):
        return ["10.1.2.3"]
    return None


class _FakeUpstream(asyncio.DatagramProtocol):
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        query = DNSRecord.parse(data)
        reply = query.reply()
        reply.add_answer(RR(query.q.qname, QTYPE.A, rdata=A("192.0.2.55"), ttl=5))
        self.transport.sendto(reply.pack(), addr)  # type: ignore[attr-defined]


def ask(
    service: DnsService, container_id: str, name: str, qtype: str = "A"
) -> DNSRecord:
    packet = DNSRecord.question(name, qtype).pack()
    reply = asyncio.run(service.resolve(container_id, packet))
    assert reply is not None
    return DNSRecord.parse(reply)


def test_known_names_get_their_addresses(tmp_path: Path) -> None:
    resolv = tmp_path / "resolv.conf"
    resolv.write_text("")
    service = DnsService(lookup, resolv)
    reply = ask(service, "c1", "WEB.")
    assert [str(rr.rdata) for rr in reply.rr] == ["10.1.2.3"]
    # Known name, other type: an empty answer, not a forward.
    reply = ask(service, "c1", "web", "AAAA")
    assert reply.header.rcode == RCODE.NOERROR and not reply.rr


def test_other_names_go_to_the_host_resolvers(tmp_path: Path) -> None:
    resolv = tmp_path / "resolv.conf"
    resolv.write_text(f"search example\nnameserver {UPSTREAM}\n")
    assert host_nameservers(resolv) == [UPSTREAM]
    service = DnsService(lookup, resolv)

    async def forwarded() -> DNSRecord:
        loop = asyncio.get_running_loop()
        transport, _ = await loop.create_datagram_endpoint(
            _FakeUpstream, local_addr=(UPSTREAM, 53)
        )
        try:
            packet = DNSRecord.question("elsewhere.test").pack()
            reply = await service.resolve("c1", packet)
            assert reply is not None
            return DNSRecord.parse(reply)
        finally:
            transport.close()

    reply = asyncio.run(forwarded())
    assert [str(rr.rdata) for rr in reply.rr] == ["192.0.2.55"]


def test_no_resolver_left_is_servfail(tmp_path: Path) -> None:
    resolv = tmp_path / "resolv.conf"
    resolv.write_text("")
    reply = ask(DnsService(lookup, resolv), "c2", "web")
    assert reply.header.rcode == RCODE.SERVFAIL
