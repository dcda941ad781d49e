"""A real DNS server on loopback for tests: dnslib's DNSServer answering from a zone.

UDP and TCP on one random port (dnspython retries over TCP when an answer is
truncated, as a long DKIM key can be).
"""

from __future__ import annotations

import socket
from typing import Any

from dnslib import QTYPE, RCODE, RR, DNSRecord
from dnslib.server import BaseResolver, DNSLogger, DNSServer


def free_udp_tcp_port() -> int:
    while True:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
            u.bind(("127.0.0.1", 0))
            port = int(u.getsockname()[1])
            with socket.socket() as t:
                try:
                    t.bind(("127.0.0.1", port))
                except OSError:
                    continue
                return port


def txt(value: str) -> str:
    """A TXT rdata in zone syntax, split into 255-character strings."""
    return " ".join(f'"{value[i : i + 255]}"' for i in range(0, len(value), 255))


class ZoneResolver(BaseResolver):  # type: ignore[misc]
    def __init__(self, zone: str) -> None:
        self.records = RR.fromZone(zone)

    def resolve(self, request: DNSRecord, handler: Any) -> DNSRecord:
        reply = request.reply()
        qname, qtype = request.q.qname, QTYPE[request.q.qtype]
        names = {rr.rname for rr in self.records}
        for rr in self.records:
            if rr.rname == qname and QTYPE[rr.rtype] == qtype:
                reply.add_answer(rr)
        if not reply.rr and qname not in names:
            reply.header.rcode = RCODE.NXDOMAIN
        return reply


class LocalDns:
    """``with LocalDns(zone) as dns:`` then point the doctor at ``dns.address``."""

    def __init__(self, zone: str) -> None:
        self.port = free_udp_tcp_port()
        resolver = ZoneResolver(zone)
        quiet = DNSLogger("-request,-reply,-truncated,-error", logf=lambda _msg: None)
        self.servers = [
            DNSServer(resolver, port=self.port, address="127.0.0.1", tcp=tcp, logger=quiet)
            for tcp in (False, True)
        ]

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def __enter__(self) -> LocalDns:
        for s in self.servers:
            s.start_thread()
        return self

    def __exit__(self, *exc: object) -> None:
        for s in self.servers:
            s.stop()
