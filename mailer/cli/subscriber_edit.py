"""`mailer subscribers edit`: change a subscriber's name, language or attributes."""

from __future__ import annotations

import click

from mailer.accounts import audit
from mailer.accounts.audit import CLI
from mailer.cli.context import app, print_json, shown
from subscribers import members
from subscribers.edit import edit_subscriber, subscriber_by_ref


def attr_pairs(
    _ctx: click.Context, _param: click.Parameter, values: tuple[str, ...]
) -> dict[str, str]:
    """The --attr KEY=VALUE options of `subscribers add` and `edit`, as a dict."""
    out = {}
    for item in values:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise click.BadParameter(f"{item!r} is not KEY=VALUE", param_hint="--attr")
        out[key.strip()] = value
    return out


@click.command("edit")
@click.argument("subscriber")
@click.option("--name", default=None, help="New display name ('' clears it).")
@click.option("--language", default=None, help="New language, e.g. en or zh-CN ('' clears it).")
@click.option("--attr", "attrs", multiple=True, callback=attr_pairs, help="KEY=VALUE; repeatable.")
@click.option("--unset", "unset", multiple=True, metavar="KEY", help="Remove an attribute.")
@click.option("--json", "as_json", is_flag=True, help="Print the subscriber as JSON.")
@click.pass_context
def edit(
    ctx: click.Context,
    subscriber: str,
    name: str | None,
    language: str | None,
    attrs: dict[str, str],
    unset: tuple[str, ...],
    as_json: bool,
) -> None:
    """Change SUBSCRIBER's (address or id) name, language or attributes.

    Only what is given changes; a bad value changes nothing.

    \b
    Example:
      mailer subscribers edit li.wei@example.org --name "Li Wei" --attr country=CN
    """
    if name is None and language is None and not attrs and not unset:
        # Else it would say "Updated" and write an audit entry for no change.
        raise click.UsageError("nothing to change: give --name, --language, --attr or --unset")
    changes: dict[str, str | None] = {**attrs, **dict.fromkeys(unset)}
    with app(ctx).session() as s:
        sub = edit_subscriber(
            s, subscriber_by_ref(s, subscriber), name=name, language=language, attributes=changes
        )
        given = [f for f, v in (("name", name), ("language", language)) if v is not None]
        fields = given + (["attributes"] if changes else [])
        audit.record(s, CLI, "subscriber.edit", sub.email, fields=fields)
        info = members.describe(s, sub.email)
    if as_json:
        print_json(info)
    else:
        click.echo(f"Updated {shown(info['email'])}.")
