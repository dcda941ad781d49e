"""`mailer subscribers …`: one address at a time, and CSV import/export."""

from __future__ import annotations

import sys
from typing import Any

import click

from mailer.bounces import summary
from mailer.cli.context import app, json_text, print_json, shown
from mailer.cli.invite import invite, invite_hint
from mailer.cli.subscriber_csv import export, import_
from mailer.cli.subscriber_edit import attr_pairs, edit
from mailer.transport.address import AddressError, WireAddress, wire_address
from subscribers import members
from subscribers.models import SubscriptionStatus


@click.group("subscribers")
def group() -> None:
    """Subscribers: add, show, import, export, unsubscribe, suppress, erase.

    \b
    Example:
      mailer subscribers import people.csv --list lmec-news
    """


@group.command("add")
@click.argument("email")
@click.option("--list", "list_slug", required=True, help="The list to subscribe to.")
@click.option("--name", default="", help="Display name.")
@click.option("--language", default="", help="Preferred language, e.g. en or zh-CN.")
@click.option("--attr", "attrs", multiple=True, callback=attr_pairs, help="KEY=VALUE; repeatable.")
@click.option("--confirmed", is_flag=True, help="Subscribe as confirmed (they already opted in).")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@click.pass_context
def add(
    ctx: click.Context,
    email: str,
    list_slug: str,
    name: str,
    language: str,
    attrs: dict[str, str],
    confirmed: bool,
    as_json: bool,
) -> None:
    """Subscribe EMAIL to a list (updating name, language and attributes if known).

    Without --confirmed, a double opt-in list keeps the subscription
    unconfirmed until the subscriber confirms.

    \b
    Example:
      mailer subscribers add li.wei@example.org --list lmec-news --name "Li Wei" \\
        --language zh --attr country=CN --confirmed
    """
    with app(ctx).session() as s:
        result = members.add_subscriber(
            s,
            email,
            list_slug,
            name=name,
            language=language,
            attributes=attrs,
            confirmed=confirmed,
        )
        out = {
            "email": result.subscriber.email,
            "list": list_slug,
            "created": result.created,
            "status": result.status,
        }
    if as_json:
        print_json(out)
    else:
        verb = "Added" if result.created else "Updated"
        click.echo(f"{verb} {shown(out['email'])} on {list_slug!r} ({out['status']}).")
        if out["status"] == "unconfirmed":
            click.echo(invite_hint(list_slug, 1, result.subscriber.email))


@group.command("show")
@click.argument("email")
@click.option("--json", "as_json", is_flag=True, help="Print everything as JSON.")
@click.pass_context
def show(ctx: click.Context, email: str, as_json: bool) -> None:
    """Show what is stored about EMAIL: details, subscriptions, suppression.

    \b
    Example:
      mailer subscribers show li.wei@example.org --json
    """
    with app(ctx).session() as s:
        info = members.describe(s, email)
        info["bounces"] = summary.events(s, email=email)
    if info["subscriber"] is not None:
        # What goes on the wire: an A-label domain (and SMTPUTF8 for a non-ASCII local part).
        try:
            wire = wire_address(info["subscriber"]["email"])
        except AddressError as exc:
            wire = WireAddress(f"(none: {exc})", False)
        info["subscriber"]["email_wire"] = wire.address
        info["subscriber"]["needs_smtputf8"] = wire.smtputf8
    if as_json:
        print_json(info)
        return
    sub, supp = info["subscriber"], info["suppression"]
    # Every stored value goes through shown(): control characters become visible.

    def echo(text: str) -> None:
        click.echo(shown(text))

    if sub is not None:
        echo(f"{sub['email']}  {sub['name']}".rstrip())
        if sub["email_wire"] != sub["email"] or sub["needs_smtputf8"]:
            utf8 = " (needs a server with SMTPUTF8)" if sub["needs_smtputf8"] else ""
            echo(f"  on the wire: {sub['email_wire']}{utf8}")
        echo(f"  language: {sub['language'] or '-'}")
        for key, value in sub["attributes"].items():
            echo(f"  {key}: {value}")
        consent = sub["consent"]
        echo(
            f"  consent: {consent['source'] or '-'} at {consent['at'] or '-'}"
            + (f" from {consent['ip']}" if consent["ip"] else "")
        )
        for x in sub["subscriptions"]:
            echo(f"  list {x['list']}: {_subscription_state(x)}")
    else:
        echo(f"{info['email']}: no subscriber record")
    if supp is not None:
        echo(f"  SUPPRESSED: {supp['reason']} at {supp['at']} {supp['detail']}".rstrip())
    for e in info["suppression_history"]:
        echo(f"  {e['at'][:19]} {e['action']} ({e['reason']}) {e['detail']}".rstrip())
    for b in info["bounces"]:
        status = f" {b['status']}" if b["status"] else ""
        echo(
            f"  {b['at'][:19]} {b['kind']}{status} bounce via {b['source']}, campaign "
            f"{b['campaign'] or '-'}: {b['detail']}"
        )
        if b["diagnostic"]:
            echo(f"    remote server said: {b['diagnostic']}")


def _subscription_state(x: dict[str, Any]) -> str:
    """The status with the time it began: unsubscribed, confirmed, or created."""
    if x["status"] == "unsubscribed" and x["unsubscribed_at"]:
        return f"unsubscribed at {x['unsubscribed_at']} (subscribed {x['created_at']})"
    if x["status"] == "confirmed" and x["confirmed_at"]:
        return f"confirmed at {x['confirmed_at']}"
    return f"{x['status']} (since {x['created_at']})"


@group.command("ls")
@click.option("--list", "list_slug", help="Only this list.")
@click.option(
    "--status",
    type=click.Choice([s.value for s in SubscriptionStatus]),
    help="Only this status.",
)
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array.")
@click.pass_context
def ls(ctx: click.Context, list_slug: str | None, status: str | None, as_json: bool) -> None:
    """List subscriptions, one line each (address, name, language, list, status).

    \b
    Example:
      mailer subscribers ls --list lmec-news --status confirmed
    """
    write = sys.stdout.write
    with app(ctx).session() as s:
        rows = members.iter_members(s, list_slug, status)
        first = True
        if as_json:
            write("[")
        for email, name, language, slug, st in rows:
            if as_json:
                item = {
                    "email": email,
                    "name": name,
                    "language": language,
                    "list": slug,
                    "status": st,
                }
                write(("\n  " if first else ",\n  ") + json_text(item, indent=None))
            else:
                write(f"{shown(email)}\t{shown(name)}\t{language or ''}\t{slug}\t{st}\n")
            first = False
        if as_json:
            write("\n]\n" if not first else "]\n")


@group.command("unsubscribe")
@click.argument("email")
@click.option("--list", "list_slug", help="Only this list (default: every list, and suppress).")
@click.pass_context
def unsubscribe(ctx: click.Context, email: str, list_slug: str | None) -> None:
    """Unsubscribe EMAIL from one list, or from every list.

    Without --list the address is also suppressed, so no import brings it back.

    \b
    Example:
      mailer subscribers unsubscribe li.wei@example.org --list lmec-news
    """
    with app(ctx).session() as s:
        changed = members.unsubscribe(s, email, list_slug)
    if changed:
        click.echo(f"Unsubscribed {shown(email.strip())} from {', '.join(changed)}.")
    else:
        click.echo(f"{shown(email.strip())} was already unsubscribed.")


@group.command("suppress")
@click.argument("email")
@click.option("--note", default="", help="Why, for the record.")
@click.pass_context
def suppress(ctx: click.Context, email: str, note: str) -> None:
    """Never mail EMAIL again, and never let an import subscribe it.

    \b
    Example:
      mailer subscribers suppress spamtrap@example.org --note "known spam trap"
    """
    with app(ctx).session() as s:
        row, created = members.suppress(s, email, detail=note)
        reason = row.reason
    if created:
        click.echo(f"Suppressed {shown(email.strip())}.")
    else:
        click.echo(f"{shown(email.strip())} was already suppressed ({reason}).")


@group.command("unsuppress")
@click.argument("email")
@click.option("--reason", required=True, help="Why the suppression is lifted (recorded).")
@click.pass_context
def unsuppress(ctx: click.Context, email: str, reason: str) -> None:
    """Lift a suppression (not an erasure), recording why.

    \b
    Example:
      mailer subscribers unsuppress li.wei@example.org --reason "mailbox fixed, asked by phone"
    """
    with app(ctx).session() as s:
        row = members.unsuppress(s, email, reason)
        was = row.reason
    click.echo(f"Lifted the {was} suppression of {shown(email.strip())}.")


@group.command("erase")
@click.argument("email")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@click.pass_context
def erase(ctx: click.Context, email: str, yes: bool) -> None:
    """Erase EMAIL's personal data (GDPR art. 17), keeping only a hashed suppression.

    \b
    Example:
      mailer subscribers erase li.wei@example.org --yes
    """
    if not yes:
        click.confirm(
            f"Erase everything stored about {shown(email.strip())}?", abort=True, err=True
        )
    with app(ctx).session() as s:
        found = members.erase(s, email)
    if found:
        click.echo(
            f"Erased {shown(email.strip())}; a hashed suppression keeps it from coming back."
        )
    else:
        click.echo(f"No subscriber {shown(email.strip())}; recorded a hashed suppression anyway.")


group.add_command(edit)
group.add_command(import_)
group.add_command(export)

group.add_command(invite)
COMMANDS = [group]
