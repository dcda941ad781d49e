"""The sending domain's DNS: DKIM keys, DMARC, the bounce MX (SPF: spf_check)."""

from __future__ import annotations

from pathlib import Path

from mailer.doctor.config import from_domain, return_path_domain
from mailer.doctor.findings import Finding, Level
from mailer.doctor.records import Dns, aligned, org_domain, public_key_b64, tags, txt_record
from mailer.settings import Settings


def check_dkim(settings: Settings, dns: Dns) -> list[Finding]:
    out: list[Finding] = []
    domain = settings.dkim_domain.lower().rstrip(".")
    keys = [(settings.dkim_selector, settings.dkim_key_file)]
    if settings.dkim_ed25519_key_file:
        keys.append((settings.dkim_ed25519_selector, settings.dkim_ed25519_key_file))
    for selector, path in keys:
        if not (selector and path and domain):
            continue
        out.append(_dkim_key(dns, selector, domain, path))
    if domain and settings.dkim_key_file:
        sender = from_domain(settings)
        if aligned(domain, sender):
            out.append(Finding("dkim.aligned", Level.OK, f"DKIM d={domain} aligns with From"))
        else:
            out.append(
                Finding(
                    "dkim.aligned",
                    Level.ERROR,
                    f"DKIM d={domain} does not align with the From domain {sender} "
                    "(DMARC needs the same organizational domain)",
                    f'set dkim_domain = "{sender}" and publish the key there',
                )
            )
    return out


def _dkim_key(dns: Dns, selector: str, domain: str, path: str) -> Finding:
    name = f"{selector}._domainkey.{domain}"
    check = f"dkim.key.{selector}"
    try:
        kind, ours = public_key_b64(Path(path).read_bytes())
    except (OSError, ValueError, TypeError) as exc:
        return Finding(check, Level.ERROR, f"cannot read the DKIM key {path}: {exc}")
    fix = "publish: " + txt_record(name, f"v=DKIM1; k={kind}; p={ours}")
    records = [tags(r) for r in dns.txt(name)]
    keys = [t for t in records if "p" in t and t.get("v", "DKIM1") == "DKIM1"]
    if not keys:
        return Finding(check, Level.ERROR, f"no DKIM key record at {name}", fix)
    if any(t["p"] == ours and t.get("k", "rsa") == kind for t in keys):
        return Finding(check, Level.OK, f"{name} publishes our {kind} key")
    if all(not t["p"] for t in keys):
        return Finding(check, Level.ERROR, f"the key at {name} is revoked (empty p=)", fix)
    return Finding(
        check,
        Level.ERROR,
        f"the key published at {name} does not match {path}: every signature would fail",
        "replace it: " + txt_record(name, f"v=DKIM1; k={kind}; p={ours}"),
    )


def check_dmarc(settings: Settings, dns: Dns) -> list[Finding]:
    sender = from_domain(settings)
    # RFC 7489 6.6.3: the From domain's record, else the organizational domain's.
    for domain in dict.fromkeys([sender, org_domain(sender)]):
        for record in dns.txt(f"_dmarc.{domain}"):
            t = tags(record)
            if t.get("v", "").upper() == "DMARC1" and "p" in t:
                policy = t["p"].lower()
                message = f"DMARC for {domain}: p={policy}" + (
                    f", reports to {t['rua']}" if "rua" in t else ""
                )
                return [Finding("dmarc", Level.OK, message)]
    return [
        Finding(
            "dmarc",
            Level.ERROR,
            f"no DMARC record for {sender}: Gmail and Yahoo require one of bulk senders",
            "publish: "
            + txt_record(
                f"_dmarc.{org_domain(sender)}", f"v=DMARC1; p=none; rua=mailto:dmarc@{sender}"
            ),
        )
    ]


def check_bounce_mx(settings: Settings, dns: Dns) -> list[Finding]:
    domain = return_path_domain(settings)
    exchanges = dns.mx(domain)
    if exchanges:
        return [Finding("bounce.mx", Level.OK, f"MX for {domain}: {', '.join(exchanges)}")]
    if settings.bounce_mailbox:
        return [
            Finding("bounce.mx", Level.OK, f"no MX for {domain}; bounces read from bounce_mailbox")
        ]
    return [
        Finding(
            "bounce.mx",
            Level.ERROR,
            f"no MX for the return-path domain {domain} and no bounce_mailbox: "
            "bounces are lost and bad addresses are never suppressed",
            f"publish: {domain}. IN MX 10 mail.{domain}. and set bounce_mailbox",
        )
    ]
