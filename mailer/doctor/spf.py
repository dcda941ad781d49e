"""A small SPF evaluator (RFC 7208) over the doctor's resolver.

Not pyspf: its last release (2.0.14, 2020) looks names up through
dnspython's deprecated module-level ``dns.resolver.query`` on the process's
default resolver, so pointing it at ``--resolver`` would mean replacing a
global of dnspython or of pyspf for every thread of `mailer run`. What the
doctor needs is small: the records, the DNS-lookup count after following
includes, ``+all``, and whether one address passes; macros (``%{…}``) are
not expanded (a mechanism using one is counted but does not match) and
``ptr`` (deprecated, RFC 7208 5.5) never matches here.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field

from mailer.doctor.records import Dns

LIMIT = 10  # DNS-querying terms per evaluation (RFC 7208 4.6.4)
LOOKUP_TERMS = ("include", "a", "mx", "ptr", "exists", "redirect")
QUALIFIERS = {"+": "pass", "-": "fail", "~": "softfail", "?": "neutral"}
DEPTH = 12  # includes within includes: a loop is a permerror, not a hang
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class PermError(Exception):
    """The policy cannot be evaluated (RFC 7208 2.6.7): receivers treat it as a failure."""


@dataclass(frozen=True)
class Term:
    qualifier: str  # "+", "-", "~", "?"; "" for a modifier
    name: str  # "ip4", "include", "all", … or a modifier's name ("redirect")
    value: str  # the domain-spec or network, "" when none


def spf_records(dns: Dns, domain: str) -> list[str]:
    """The ``v=spf1`` TXT records of ``domain`` (RFC 7208 4.5: exactly "v=spf1" or "v=spf1 …")."""
    return [r for r in dns.txt(domain) if r.lower() == "v=spf1" or r.lower().startswith("v=spf1 ")]


def parse(record: str) -> list[Term]:
    terms = []
    for word in record.split()[1:]:
        name, sep, value = word.partition("=")
        if sep and ":" not in name and "/" not in name:
            terms.append(Term("", name.lower(), value))
            continue
        qualifier = word[0] if word[0] in QUALIFIERS else "+"
        word = word.lstrip("+-~?")
        name, _, value = word.partition(":")
        if "/" in name:  # "a/24", "mx/24//64": a CIDR without a domain
            name, _, cidr = name.partition("/")
            value = "/" + cidr
        terms.append(Term(qualifier, name.lower(), value))
    return terms


def _one_record(dns: Dns, domain: str) -> list[Term] | None:
    records = spf_records(dns, domain)
    if len(records) > 1:
        raise PermError(f"{domain} has {len(records)} SPF records (RFC 7208 3.2)")
    return parse(records[0]) if records else None


@dataclass
class Walk:
    """Every record reachable through include and redirect: lookups and ``+all``s."""

    lookups: int = 0
    plus_all: list[str] = field(default_factory=list)  # domains whose record ends "+all"
    seen: set[str] = field(default_factory=set)


def walk(dns: Dns, domain: str, into: Walk | None = None, depth: int = 0) -> Walk:
    into = into or Walk()
    if depth > DEPTH or domain in into.seen:
        raise PermError(f"include or redirect loop at {domain}")
    into.seen.add(domain)
    terms = _one_record(dns, domain)
    if terms is None:
        if depth:  # an include of a domain without SPF is a permerror (RFC 7208 5.2)
            raise PermError(f"{domain} is included but has no SPF record")
        return into
    for t in terms:
        if t.name in LOOKUP_TERMS:
            into.lookups += 1
        if t.name == "all" and t.qualifier == "+":
            into.plus_all.append(domain)
        if t.name in ("include", "redirect") and t.value and "%" not in t.value:
            walk(dns, t.value.lower().rstrip("."), into, depth + 1)
    return into


def check_host(dns: Dns, ip: IPAddress, domain: str, depth: int = 0) -> str:
    """The result for mail from ``ip`` with a return path at ``domain`` (RFC 7208 4)."""
    if depth > DEPTH:
        raise PermError(f"include or redirect loop at {domain}")
    terms = _one_record(dns, domain)
    if terms is None:
        return "none"
    redirect = next((t.value for t in terms if t.name == "redirect"), "")
    for t in terms:
        if not t.qualifier:
            continue  # modifiers: redirect is applied below, exp and others are ignored
        if _matches(dns, ip, domain, t, depth):
            return QUALIFIERS[t.qualifier]
    if redirect and "%" not in redirect:
        result = check_host(dns, ip, redirect.lower().rstrip("."), depth + 1)
        if result == "none":
            raise PermError(f"redirect to {redirect}, which has no SPF record")
        return result
    return "neutral"


def _matches(dns: Dns, ip: IPAddress, domain: str, t: Term, depth: int) -> bool:
    spec, _, cidr = t.value.partition("/")
    target = (spec or domain).lower().rstrip(".")
    if t.name == "all":
        return True
    if t.name in ("ip4", "ip6"):
        try:
            return ip in ipaddress.ip_network(t.value, strict=False)
        except ValueError:
            raise PermError(f"{t.name}:{t.value} is not a network") from None
    if "%" in target or t.name == "ptr":
        return False
    if t.name == "include":
        result = check_host(dns, ip, target, depth + 1)
        if result == "none":
            raise PermError(f"{target} is included but has no SPF record")
        return result == "pass"
    if t.name == "exists":
        return bool(dns.addresses(target))
    if t.name == "a":
        return _in_any(ip, dns.addresses(target), cidr)
    if t.name == "mx":
        hosts = dns.mx(target)[:LIMIT]  # RFC 7208 4.6.4: at most 10 MX names
        return any(_in_any(ip, dns.addresses(h), cidr) for h in hosts)
    raise PermError(f"unknown SPF mechanism {t.name!r}")


def _in_any(ip: IPAddress, addresses: list[str], cidr: str) -> bool:
    """``cidr`` is "", "24", "24//64" or "/64" (the text after the first "/")."""
    four, _, six = ("", "", cidr[1:]) if cidr.startswith("/") else cidr.partition("//")
    for text in addresses:
        addr = ipaddress.ip_address(text)
        if addr.version != ip.version:
            continue
        bits = four if addr.version == 4 else six
        prefix = int(bits) if bits.isdigit() else addr.max_prefixlen
        if ip in ipaddress.ip_network(f"{addr}/{prefix}", strict=False):
            return True
    return False
