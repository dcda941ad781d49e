"""`mailer lists …`: create, list, show and remove mailing lists."""

from __future__ import annotations

import click
from rich.table import Table
from rich.text import Text
from sqlalchemy import func, select

from mailer.campaigns.models import Campaign
from mailer.cli.context import app, print_json, shown
from subscribers import lists as svc
from subscribers.models import MailingList


@click.group("lists")
def lists_group() -> None:
    """Mailing lists.

    \b
    Example:
      mailer lists create lmec-news --title "LMEC Newsletter" --double-opt-in
    """


@lists_group.command("create")
@click.argument("name")
@click.option("--title", help="Human-readable title (default: the name).")
@click.option("--description", default="", help="One paragraph shown on the subscribe page.")
@click.option(
    "--double-opt-in/--single-opt-in",
    default=True,
    show_default=True,
    help="Whether new subscribers must confirm by email.",
)
@click.option("--private", is_flag=True, help="Hide from the public archive and preferences.")
@click.option("--json", "as_json", is_flag=True, help="Print the new list as JSON.")
@click.pass_context
def create(
    ctx: click.Context,
    name: str,
    title: str | None,
    description: str,
    double_opt_in: bool,
    private: bool,
    as_json: bool,
) -> None:
    """Create a list called NAME (lower-case letters, digits, hyphens).

    \b
    Example:
      mailer lists create lmec-news --title "LMEC Newsletter" --single-opt-in
    """
    with app(ctx).session() as s:
        svc.create_list(
            s,
            name,
            title=title,
            description=description,
            double_opt_in=double_opt_in,
            public=not private,
        )
        summary = svc.summarize_list(s, name)
    if as_json:
        print_json(summary.as_dict())
    else:
        click.echo(f"Created list {name!r} ({'double' if double_opt_in else 'single'} opt-in).")


def _opt_in(double: bool) -> str:
    return "double" if double else "single"


@lists_group.command("ls")
@click.option("--json", "as_json", is_flag=True, help="Print the lists as JSON.")
@click.pass_context
def ls(ctx: click.Context, as_json: bool) -> None:
    """Show every list with its subscriber counts.

    \b
    Example:
      mailer lists ls --json
    """
    with app(ctx).session() as s:
        summaries = svc.summarize_lists(s)
    if as_json:
        print_json([x.as_dict() for x in summaries])
        return
    if not summaries:
        click.echo("No lists yet. Create one: mailer lists create NAME")
        return
    table = Table("name", "title", "opt-in", "confirmed", "unconfirmed", "unsubscribed")
    for x in summaries:
        table.add_row(
            x.slug,
            Text(shown(x.title)),
            _opt_in(x.double_opt_in),
            *(str(x.counts[k]) for k in ("confirmed", "unconfirmed", "unsubscribed")),
        )
    app(ctx).out.print(table)


@lists_group.command("show")
@click.argument("name")
@click.option("--json", "as_json", is_flag=True, help="Print the list as JSON.")
@click.pass_context
def show(ctx: click.Context, name: str, as_json: bool) -> None:
    """Show one list and how many subscribers it has in each status.

    \b
    Example:
      mailer lists show lmec-news
    """
    with app(ctx).session() as s:
        x = svc.summarize_list(s, name)
    if as_json:
        print_json(x.as_dict())
        return
    click.echo(f"{x.slug}: {shown(x.title)}")
    for line in x.description.splitlines():
        click.echo(f"  {shown(line)}")
    click.echo(f"  opt-in: {_opt_in(x.double_opt_in)}; {'public' if x.public else 'private'}")
    for status, n in x.counts.items():
        click.echo(f"  {status}: {n}")
    click.echo(f"  total: {x.total}")


@lists_group.command("rm")
@click.argument("name")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@click.pass_context
def rm(ctx: click.Context, name: str, yes: bool) -> None:
    """Delete a list and its subscriptions (the subscribers stay).

    \b
    Example:
      mailer lists rm old-list --yes
    """
    with app(ctx).session() as s:
        x = svc.summarize_list(s, name)
        used = s.scalar(
            select(func.count())
            .select_from(Campaign)
            .join(MailingList)
            .where(MailingList.slug == name)
        )
        if used:
            raise click.ClickException(
                f"list {name!r} has {used} campaign{'s' if used != 1 else ''}, whose delivery "
                "history refers to it; it cannot be removed (nothing was changed)"
            )
        if not yes:
            click.confirm(
                f"Delete list {name!r} and its {x.total} subscriptions?", abort=True, err=True
            )
        svc.remove_list(s, name)
    click.echo(f"Deleted list {name!r}.")


COMMANDS = [lists_group]
