"""SPF beyond "a record exists": record count, lookup limit, +all, and the relay's address."""

from __future__ import annotations

from dataclasses import replace

from mailer.doctor import Finding, Level
from mailer.doctor.records import Dns
from mailer.doctor.run import diagnose
from mailer.doctor.spf_check import check_spf
from mailer.settings import Settings
from tests.dns_server import LocalDns
from tests.mailer.doctor.zones import Keys, good_settings, zone
from tests.smtp_server import SmtpServer

# example.org: MX mail.example.org (192.0.2.25); SPF "v=spf1 mx a ~all" (zones.zone)
OTHER_SPF = 'example.org. 300 IN TXT "v=spf1 mx a ~all"\n'


def _zone(keys: Keys, spf: str, extra: str = "") -> str:
    """The good zone with example.org's SPF record replaced by ``spf``."""
    base = zone(keys).replace(OTHER_SPF, "")
    assert base != zone(keys)
    return base + "".join(f'example.org. 300 IN TXT "{r}"\n' for r in spf.split("|")) + extra


def spf(keys: Keys, relay: SmtpServer, zone_text: str, smtp_host: str) -> dict[str, list[Finding]]:
    with LocalDns(zone_text) as dns:
        settings: Settings = replace(good_settings(keys, relay, dns), smtp_host=smtp_host)
        found = check_spf(settings, Dns.make(dns.address))
    out: dict[str, list[Finding]] = {}
    for f in found:
        out.setdefault(f.check, []).append(f)
    return out


def test_the_relays_address_is_checked_against_the_policy(keys: Keys, relay: SmtpServer) -> None:
    good = zone(keys)
    for host in ("192.0.2.25", "mail.example.org"):  # an IP, or a name our resolver knows
        (f,) = spf(keys, relay, good, host)["spf.relay"]
        assert f.level == Level.OK and "192.0.2.25 passes SPF" in f.message, host
    (f,) = spf(keys, relay, good, "203.0.113.9")["spf.relay"]
    assert f.level == Level.WARNING
    assert f.message == (
        "the relay's address 203.0.113.9 is not allowed by SPF for example.org (softfail)"
    )
    assert f.fix == 'publish: example.org. IN TXT "v=spf1 mx a ip4:203.0.113.9 ~all"'
    # The record the fix prints is enough.
    fixed = _zone(keys, "v=spf1 mx a ip4:203.0.113.9 ~all")
    (f,) = spf(keys, relay, fixed, "203.0.113.9")["spf.relay"]
    assert f.level == Level.OK
    # A relay on loopback sends on through another host: not judged here.
    (f,) = spf(keys, relay, good, "127.0.0.1")["spf.relay"]
    assert f.level == Level.OK and "is local" in f.message


def test_cidr_redirect_and_hard_fail(keys: Keys, relay: SmtpServer) -> None:
    cidr = _zone(keys, "v=spf1 a:mail.example.org/24 -all")
    assert spf(keys, relay, cidr, "192.0.2.77")["spf.relay"][0].level == Level.OK
    redirect = _zone(
        keys,
        "v=spf1 redirect=_spf.example.org",
        '_spf.example.org. 300 IN TXT "v=spf1 ip4:198.51.100.0/24 ip6:2001:db8::/32 -all"\n',
    )
    assert spf(keys, relay, redirect, "2001:db8::25")["spf.relay"][0].level == Level.OK
    (f,) = spf(keys, relay, redirect, "192.0.2.25")["spf.relay"]
    assert f.level == Level.WARNING and "(fail)" in f.message
    assert "v=spf1 ip4:192.0.2.25 redirect=_spf.example.org" in f.fix


def test_two_spf_records_are_an_error(keys: Keys, relay: SmtpServer) -> None:
    found = spf(keys, relay, _zone(keys, "v=spf1 mx ~all|v=spf1 a -all"), "192.0.2.25")
    (f,) = found["spf"]
    assert f.level == Level.ERROR and "2 SPF records" in f.message and "RFC 7208 3.2" in f.message
    assert f.fix.startswith("merge them into one")


def test_more_than_ten_lookups_after_includes_is_an_error(keys: Keys, relay: SmtpServer) -> None:
    includes = (
        '_a.example.org. 300 IN TXT "v=spf1 a mx exists:x.example.org include:_c.example.org ~all"\n'
        '_b.example.org. 300 IN TXT "v=spf1 a mx ~all"\n'
        '_c.example.org. 300 IN TXT "v=spf1 a mx ptr ~all"\n'
    )
    # 2 includes + 4 in _a + 2 in _b + 3 in _c = 11
    many = _zone(keys, "v=spf1 include:_a.example.org include:_b.example.org ~all", includes)
    (f,) = spf(keys, relay, many, "192.0.2.25")["spf.lookups"]
    assert f.level == Level.ERROR and "needs 11 DNS lookups" in f.message
    assert "permerror" in f.message and "ip4:/ip6:" in f.fix
    ten = _zone(keys, "v=spf1 include:_a.example.org a mx ~all", includes)  # 1 + 4 + 3 + 2
    (f,) = spf(keys, relay, ten, "192.0.2.25")["spf.lookups"]
    assert f.level == Level.OK and "10 of 10" in f.message


def test_plus_all_and_a_dangling_include(keys: Keys, relay: SmtpServer) -> None:
    with LocalDns(_zone(keys, "v=spf1 mx +all")) as dns:
        report = diagnose(good_settings(keys, relay, dns))
    (f,) = report.errors
    assert f.check == "spf.all" and "anyone may send" in f.message and "~all" in f.fix
    included = _zone(
        keys, "v=spf1 include:_spf.example.org ~all", '_spf.example.org. 300 IN TXT "v=spf1 all"\n'
    )
    (f,) = spf(keys, relay, included, "192.0.2.25")["spf.all"]
    assert f.level == Level.ERROR and "_spf.example.org allows every address" in f.message
    dangling = _zone(keys, "v=spf1 include:_gone.example.org ~all")
    (f,) = spf(keys, relay, dangling, "192.0.2.25")["spf.valid"]
    assert f.level == Level.ERROR and "_gone.example.org is included but has no SPF" in f.message
