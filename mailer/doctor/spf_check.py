"""SPF of the return-path domain: one record, at most 10 lookups, no +all, the relay allowed."""

from __future__ import annotations

import ipaddress

from mailer.doctor.config import from_domain, is_loopback, return_path_domain
from mailer.doctor.findings import Finding, Level
from mailer.doctor.records import Dns, aligned, txt_record
from mailer.doctor.spf import LIMIT, IPAddress, PermError, check_host, spf_records, walk
from mailer.settings import Settings

# A relay on these sends on through another host, whose public address we cannot see.
PRIVATE = [
    ipaddress.ip_network(n) for n in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fc00::/7")
]


def check_spf(settings: Settings, dns: Dns) -> list[Finding]:
    domain = return_path_domain(settings)
    out = _records(settings, dns, domain)
    sender = from_domain(settings)
    if aligned(domain, sender):
        out.append(
            Finding("return_path.aligned", Level.OK, f"return path @{domain} aligns with From")
        )
    else:
        out.append(
            Finding(
                "return_path.aligned",
                Level.ERROR,
                f"the return path @{domain} does not align with the From domain {sender}, "
                "so SPF cannot pass DMARC",
                f'set bounce_address = "bounces@{sender}" (and its MX and SPF)',
            )
        )
    return out


def _records(settings: Settings, dns: Dns, domain: str) -> list[Finding]:
    records = spf_records(dns, domain)
    if not records:
        return [
            Finding(
                "spf",
                Level.ERROR,
                f"no SPF record for the return-path domain {domain}",
                "publish (add ip4:<relay address> if the relay is not your MX): "
                + txt_record(domain, "v=spf1 mx a ~all"),
            )
        ]
    if len(records) > 1:
        return [
            Finding(
                "spf",
                Level.ERROR,
                f"{len(records)} SPF records for {domain}: a permerror for every receiver "
                "(RFC 7208 3.2), so SPF never passes",
                "merge them into one v=spf1 record and delete the others",
            )
        ]
    (record,) = records
    out = [Finding("spf", Level.OK, f"SPF for {domain}: {record}")]
    try:
        tree = walk(dns, domain)
    except PermError as exc:
        return [*out, Finding("spf.valid", Level.ERROR, f"SPF for {domain}: {exc}", _fix(exc))]
    if tree.lookups > LIMIT:
        out.append(
            Finding(
                "spf.lookups",
                Level.ERROR,
                f"SPF for {domain} needs {tree.lookups} DNS lookups (include, a, mx, ptr, "
                f"exists, redirect) after following includes; more than {LIMIT} is a "
                "permerror (RFC 7208 4.6.4), so SPF never passes",
                "replace includes by the ip4:/ip6: ranges they list, and drop unused ones",
            )
        )
    else:
        out.append(
            Finding("spf.lookups", Level.OK, f"SPF needs {tree.lookups} of {LIMIT} DNS lookups")
        )
    for where in tree.plus_all:
        out.append(
            Finding(
                "spf.all",
                Level.ERROR,
                f"the SPF record of {where} allows every address (+all): anyone may send "
                f"as @{domain}",
                'end the record with "~all" (or "-all") instead of "+all" or "all"',
            )
        )
    return out + _relay(settings, dns, domain, record)


def _fix(exc: PermError) -> str:
    if "no SPF record" in str(exc):
        return "remove that include, or publish SPF at the included domain"
    return "correct the SPF record so that every receiver can evaluate it"


def _relay(settings: Settings, dns: Dns, domain: str, record: str) -> list[Finding]:
    host = settings.smtp_host.strip("[]")
    try:
        addresses: list[IPAddress] = [ipaddress.ip_address(host)]
    except ValueError:
        addresses = [] if is_loopback(host) else [ipaddress.ip_address(a) for a in _a(dns, host)]
        if not addresses and not is_loopback(host):
            return [
                Finding(
                    "spf.relay",
                    Level.WARNING,
                    f"the relay {host} has no A or AAAA record: not checked against SPF",
                    "check smtp_host",
                )
            ]
    if not addresses or all(a.is_loopback or any(a in n for n in PRIVATE) for a in addresses):
        return [
            Finding(
                "spf.relay",
                Level.OK,
                f"the relay {host} is local: SPF must allow the public address it sends "
                "from (not checked here)",
            )
        ]
    out = []
    for ip in addresses:
        try:
            result = check_host(dns, ip, domain)
        except PermError as exc:
            result = f"permerror: {exc}"
        if result == "pass":
            out.append(Finding("spf.relay", Level.OK, f"the relay's address {ip} passes SPF"))
            continue
        out.append(
            Finding(
                "spf.relay",
                Level.WARNING,
                f"the relay's address {ip} is not allowed by SPF for {domain} ({result})",
                "publish: " + txt_record(domain, with_address(record, ip)),
            )
        )
    return out


def _a(dns: Dns, host: str) -> list[str]:
    return dns.addresses(host.rstrip("."))


def with_address(record: str, ip: IPAddress) -> str:
    """``record`` with ip4:/ip6: of ``ip`` before its ``all`` or ``redirect``, else at the end."""
    words = record.split()
    term = f"ip{ip.version}:{ip}"
    for i, word in enumerate(words):
        if word.lstrip("+-~?").lower() == "all" or word.lower().startswith("redirect="):
            return " ".join([*words[:i], term, *words[i:]])
    return " ".join([*words, term])
