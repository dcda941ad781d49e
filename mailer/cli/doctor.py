"""`mailer doctor`: settings, DNS and relay checks for deliverability, with fixes."""

from __future__ import annotations

import click
from rich.markup import escape

from mailer.cli.context import app, print_json
from mailer.doctor.findings import Level
from mailer.settings import dns_server

MARK = {Level.OK: "[green]ok[/green]", Level.WARNING: "[yellow]warning[/yellow]"}
MARK[Level.ERROR] = "[red]error[/red]"


def _resolver(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    if value is not None:
        try:
            dns_server(value)
        except ValueError as exc:
            raise click.BadParameter(str(exc)) from None
    return value


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print the findings as JSON.")
@click.option(
    "--resolver",
    callback=_resolver,
    metavar="HOST:PORT",
    help="Ask this DNS server (default: MAILER_DNS_RESOLVER, else the system's).",
)
@click.pass_context
def doctor(ctx: click.Context, as_json: bool, resolver: str | None) -> None:
    """Check that mail from this set-up passes the Gmail and Yahoo bulk-sender rules.

    Settings (https base_url, secret key, footer address), DKIM keys as
    published in DNS, SPF, DMARC and their alignment with From, the bounce
    MX, and the SMTP relay (EHLO, STARTTLS, AUTH; no mail is sent). Each
    problem comes with the one line to publish or set. Exits 1 on an error.
    With base_url on loopback (a local test set-up) errors are warnings.

    \b
    Example:
      mailer doctor --resolver 127.0.0.1:5353
    """
    from mailer.doctor.run import diagnose  # dnspython: loaded only by this command

    a = app(ctx)
    report = diagnose(a.settings, resolver)
    if as_json:
        print_json(report.as_json())
    else:
        if report.local:
            a.out.print(
                "local test set-up (base_url on loopback): errors are shown as warnings",
                markup=False,
            )
        for f in report.findings:
            # The console prints stored text literally (markup off); only the
            # level's colour and the check's name are markup.
            a.out.print(f"{MARK[f.level]} [bold]{escape(f.check)}[/bold]: ", end="", markup=True)
            a.out.print(f.message, markup=False)
            if f.fix:
                a.out.print(f"    fix: {f.fix}", markup=False)
        a.out.print(
            f"{len(report.errors)} error(s), {len(report.warnings)} warning(s)", markup=False
        )
    if report.errors:
        ctx.exit(1)


COMMANDS = [doctor]
