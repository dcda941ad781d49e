"""`mailer bounces …`: read a bounce mailbox; summarize what was learned."""

from __future__ import annotations

import click

from mailer.bounces import summary
from mailer.bounces.process import process_messages
from mailer.bounces.sources import SourceError, imap, maildir, mbox
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
    """Read DSNs, complaint reports and auto-replies from a mailbox and act on them.

    Hard bounces and complaints suppress the address at once; soft bounces
    are scored. A message already processed is never counted twice.

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
        f"{r['hard']} hard, {r['soft']} soft, {r['complaints']} complaints, "
        f"{r['auto_replies']} auto-replies, {r['unrecognized']} unrecognized."
    )
    for address in r["suppressed"]:
        click.echo(f"  suppressed {address}")


@group.command("ls")
@click.option("--campaign", "campaign_id", type=int, help="Only this campaign.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def ls(ctx: click.Context, campaign_id: int | None, as_json: bool) -> None:
    """Summarize recorded bounces and complaints (newest first).

    \b
    Example:
      mailer bounces ls --campaign 3
    """
    with app(ctx).session() as s:
        totals = summary.counts(s, campaign_id)
        recent = summary.events(s, campaign_id, limit=50)
    if as_json:
        print_json({"counts": totals, "recent": recent})
        return
    click.echo(f"hard {totals['hard']}, soft {totals['soft']}, complaints {totals['complaint']}")
    for e in recent:
        click.echo(
            f"  {e['at'][:19]} {e['kind']:<9} {e['source']:<4} campaign "
            f"{e['campaign'] or '-'}: {e['detail']}"
        )


COMMANDS = [group]
