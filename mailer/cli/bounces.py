"""`mailer bounces …`: read a bounce mailbox; summarize what was learned."""

from __future__ import annotations

from typing import Any

import click

from mailer.bounces import summary
from mailer.bounces.process import POISON, UNSUBSCRIBE, UNVERIFIED, process_messages
from mailer.bounces.sources import SourceError, imap, maildir, mbox
from mailer.campaigns.service import get_campaign
from mailer.cli.context import app, print_json


@click.group("bounces")
def group() -> None:
    """Bounces and complaints.

    \b
    Example:
      mailer bounces process --maildir /var/mail/bounces
    """


@group.command("process")
@click.option(
    "--maildir", "maildir_path", type=click.Path(file_okay=False), help="A Maildir folder."
)
@click.option("--mbox", "mbox_path", type=click.Path(dir_okay=False), help="An mbox file.")
@click.option(
    "--imap", "imap_url", help="imaps://user@host/INBOX (password: MAILER_BOUNCE_IMAP_PASSWORD)."
)
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@click.pass_context
def process(
    ctx: click.Context,
    maildir_path: str | None,
    mbox_path: str | None,
    imap_url: str | None,
    as_json: bool,
) -> None:
    """Read DSNs, complaint reports, unsubscribe mails and auto-replies, and act on them.

    A report acts only on the subscriber our VERP return path (DSNs) or our
    Message-ID (complaints) proves; others are recorded as unverified. Hard
    bounces and complaints suppress at once; soft bounces are scored; blocks
    (5.7.x) and delay notices are recorded only. Mail to a signed
    List-Unsubscribe mailto: unsubscribes from that list. A message no
    parser can read is recorded as poison and set aside (Maildir: the
    .poison folder). A message already processed is never counted twice.

    \b
    Example:
      mailer bounces process --imap imaps://bounces@mail.example.org/INBOX --json
    """
    given = [x for x in (maildir_path, mbox_path, imap_url) if x]
    if len(given) != 1:
        raise click.UsageError("give exactly one of --maildir, --mbox or --imap")
    a = app(ctx)
    with a.session():
        pass  # the database must be ready
    settings = a.settings
    if maildir_path:
        source = maildir(maildir_path)
    elif mbox_path:
        source = mbox(mbox_path)
    else:
        source = imap(imap_url or "", settings.bounce_imap_password)
    try:
        with source as messages:
            report = process_messages(a.engine, settings, messages)
    except SourceError as exc:
        raise click.ClickException(str(exc)) from None
    if as_json:
        print_json(report.as_dict())
        return
    r = report.as_dict()
    click.echo(
        f"{r['messages']} messages ({r['already_processed']} already processed): "
        f"{r['hard']} hard, {r['soft']} soft, {r['blocks']} blocks, "
        f"{r['other_failures']} other failures, {r['delayed']} delayed, "
        f"{r['complaints']} complaints, {r['unsubscribes']} unsubscribes, "
        f"{r['auto_replies']} auto-replies, {r['unrecognized']} unrecognized, "
        f"{r['unverified']} unverified (acted on nobody), {len(r['poison'])} poison."
    )
    for address in r["suppressed"]:
        click.echo(f"  suppressed {address}")
    for address in r["unsubscribed"]:
        click.echo(f"  unsubscribed {address}")
    for line in r["poison"]:
        click.echo(f"  poison {line}")


@group.command("ls")
@click.option("--campaign", "campaign_id", type=int, help="Only this campaign.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def ls(ctx: click.Context, campaign_id: int | None, as_json: bool) -> None:
    """Summarize recorded bounces and complaints (newest first).

    Without --campaign it also lists, separately, the mailbox's unverified
    reports (which acted on nobody), poison messages (with the parser's
    error) and unsubscribes by mail.

    \b
    Example:
      mailer bounces ls --campaign 3
    """
    logs: dict[str, tuple[int, list[dict[str, Any]]]] = {}
    with app(ctx).session() as s:
        if campaign_id is not None:
            get_campaign(s, campaign_id)  # a mistyped id is an error, not a row of zeros
        totals = summary.counts(s, campaign_id)
        recent = summary.events(s, campaign_id, limit=50)
        if campaign_id is None:
            logs = {name: summary.mailbox_log(s, outcome) for name, outcome in _LOGS}
    if as_json:
        print_json(
            {"counts": totals, "recent": recent} | {name: rows for name, (_, rows) in logs.items()}
        )
        return
    click.echo(
        f"hard {totals['hard']}, soft {totals['soft']}, complaints {totals['complaint']}, "
        f"blocks {totals['block']}, other failures {totals['fail']}, delayed {totals['delayed']}"
    )
    for e in recent:
        status = f" {e['status']}" if e["status"] else ""
        click.echo(
            f"  {e['at'][:19]} {e['kind']:<9} {e['source']:<4} campaign "
            f"{e['campaign'] or '-'}{status}: {e['detail']}"
        )
    for name, (total, rows) in logs.items():
        click.echo(f"{_TITLES[name]}: {total}")
        for m in rows:
            click.echo(f"  {m['at'][:19]} {m['message_id'] or '(no Message-ID)'}: {m['detail']}")


_LOGS = (("unverified", UNVERIFIED), ("poison", POISON), ("unsubscribes", UNSUBSCRIBE))
_TITLES = {
    "unverified": "Unverified reports (acted on nobody)",
    "poison": "Poison messages (set aside)",
    "unsubscribes": "Unsubscribed by mail",
}

COMMANDS = [group]
