"""`mailer users …`, `mailer tokens …`, `mailer audit ls`: staff accounts from the shell."""

from __future__ import annotations

import click

from mailer.accounts import audit, tokens, users
from mailer.accounts.audit import CLI
from mailer.accounts.models import Role, User
from mailer.cli.context import App, app, print_json, shown
from mailer.errors import MailerError


def _secret(a: App) -> str:
    if not a.settings.secret_key:
        raise MailerError("secret_key is not set (`mailer init` writes one): links need it")
    return a.settings.secret_key


@click.group("users")
def users_group() -> None:
    """Staff accounts of the console and the API: admin, editor or viewer.

    \b
    Example:
      mailer users create editor@example.org --role editor
    """


@users_group.command("create")
@click.argument("email")
@click.option(
    "--role", required=True, type=click.Choice([r.value for r in Role]), help="The user's role."
)
@click.option("--json", "as_json", is_flag=True, help="Print the user and link as JSON.")
@click.pass_context
def create(ctx: click.Context, email: str, role: str, as_json: bool) -> None:
    """Create a user and print a one-time link to set their password (valid 3 days).

    \b
    Example:
      mailer users create editor@example.org --role editor
    """
    a = app(ctx)
    secret = _secret(a)
    with a.session() as s:
        user = users.create_user(s, email, role)
        audit.record(s, CLI, "user.create", user.email, role=user.role)
        found = _with_link(a, secret, user)
    _show_link(found, as_json, f"Created {found['email']} ({found['role']}). Send them")


@users_group.command("reset")
@click.argument("email")
@click.option("--json", "as_json", is_flag=True, help="Print the user and link as JSON.")
@click.pass_context
def reset(ctx: click.Context, email: str, as_json: bool) -> None:
    """Print a new one-time link for a user to set a new password (valid 3 days).

    For a forgotten password or an invitation link that expired. The current
    password keeps working until the link is used; using it ends the user's
    sessions. A disabled user gets no link (enable them first).

    \b
    Example:
      mailer users reset editor@example.org
    """
    a = app(ctx)
    secret = _secret(a)
    with a.session() as s:
        user = users.get_user(s, email)
        if user.disabled:
            raise MailerError(f"{user.email} is disabled: `mailer users disable --enable` first")
        audit.record(s, CLI, "user.reset", user.email)
        found = _with_link(a, secret, user)
    _show_link(found, as_json, f"Send {found['email']}")


def _with_link(a: App, secret: str, user: User) -> dict[str, str]:
    """The user, and a one-time link to the page that sets their password."""
    page = f"{a.settings.base_url.rstrip('/')}/admin/password/"
    link = page + users.one_time_token(secret, user)
    return {"email": user.email, "role": user.role, "link": link}


def _show_link(found: dict[str, str], as_json: bool, lead: str) -> None:
    if as_json:
        print_json(found)
    else:
        click.echo(f"{lead} this one-time link to set a password:")
        click.echo(found["link"])


@users_group.command("ls")
@click.option("--json", "as_json", is_flag=True, help="Print as JSON.")
@click.pass_context
def ls(ctx: click.Context, as_json: bool) -> None:
    """List the users.

    \b
    Example:
      mailer users ls --json
    """
    with app(ctx).session() as s:
        rows = [
            {
                "email": u.email,
                "role": u.role,
                "disabled": u.disabled,
                "password_set": bool(u.password_hash),
                "last_login_at": u.last_login_at.isoformat() if u.last_login_at else None,
            }
            for u in users.list_users(s)
        ]
    if as_json:
        print_json(rows)
        return
    for r in rows:
        state = "disabled" if r["disabled"] else ("active" if r["password_set"] else "invited")
        last = r["last_login_at"] or "never"
        click.echo(f"{r['email']:40} {r['role']:7} {state:9} last login {last}")


@users_group.command("disable")
@click.argument("email")
@click.option("--enable", is_flag=True, help="Enable the user again instead.")
@click.pass_context
def disable(ctx: click.Context, email: str, enable: bool) -> None:
    """Disable a user: they cannot log in, their sessions and API tokens stop at once.

    Sessions and tokens are revoked, not paused: after --enable the user logs
    in again and needs new tokens (`mailer tokens create`).

    \b
    Example:
      mailer users disable former@example.org
    """
    with app(ctx).session() as s:
        user = users.set_disabled(s, email, not enable)
        audit.record(s, CLI, "user.enable" if enable else "user.disable", user.email)
    click.echo(f"{user.email} is {'enabled' if enable else 'disabled'}.")


@users_group.command("role")
@click.argument("email")
@click.argument("role", metavar="ROLE", type=click.Choice([r.value for r in Role]))
@click.pass_context
def role(ctx: click.Context, email: str, role: str) -> None:
    """Change a user's role (admin, editor or viewer); they log in again.

    \b
    Example:
      mailer users role editor@example.org viewer
    """
    with app(ctx).session() as s:
        user = users.set_role(s, email, role)
        audit.record(s, CLI, "user.role", user.email, role=user.role)
    click.echo(f"{user.email} is now {user.role}.")


@click.group("tokens")
def tokens_group() -> None:
    """API tokens: each acts as its user, with the user's role.

    \b
    Example:
      mailer tokens create --user ci@example.org --name ci --json
    """


@tokens_group.command("create")
@click.option("--user", "email", required=True, help="The user the token acts as.")
@click.option("--name", required=True, help="What it is for, e.g. 'ci'.")
@click.option("--json", "as_json", is_flag=True, help='Print {"token": "..."}.')
@click.pass_context
def tokens_create(ctx: click.Context, email: str, name: str, as_json: bool) -> None:
    """Make an API token. It is shown once: only its hash is stored.

    \b
    Example:
      mailer tokens create --user ci@example.org --name ci --json
    """
    with app(ctx).session() as s:
        row, token = tokens.create_token(s, email, name)
        audit.record(s, CLI, "token.create", email.strip().lower(), token_id=row.id, name=name)
        token_id = row.id
    if as_json:
        print_json({"token": token, "id": token_id})
    else:
        click.echo(f"Token {token_id} ({name}); copy it now, it is not shown again:")
        click.echo(token)


@tokens_group.command("ls")
@click.option("--json", "as_json", is_flag=True, help="Print as JSON.")
@click.pass_context
def tokens_ls(ctx: click.Context, as_json: bool) -> None:
    """List API tokens (their first characters only).

    \b
    Example:
      mailer tokens ls
    """
    with app(ctx).session() as s:
        rows = [
            {
                "id": t.id,
                "user": email,
                "name": t.name,
                "prefix": t.prefix,
                "created_at": t.created_at.isoformat(),
                "last_used_at": t.last_used_at.isoformat() if t.last_used_at else None,
                "revoked": t.revoked_at is not None,
            }
            for t, email in tokens.list_tokens(s)
        ]
    if as_json:
        print_json(rows)
        return
    for r in rows:
        state = "revoked" if r["revoked"] else "active"
        click.echo(f"{r['id']:>4} {r['prefix']}… {r['user']:30} {r['name']:20} {state}")


@tokens_group.command("revoke")
@click.argument("token_id", type=int)
@click.pass_context
def tokens_revoke(ctx: click.Context, token_id: int) -> None:
    """Revoke an API token by its id (see `mailer tokens ls`).

    \b
    Example:
      mailer tokens revoke 3
    """
    with app(ctx).session() as s:
        tokens.revoke_token(s, token_id)
        audit.record(s, CLI, "token.revoke", token_id)
    click.echo(f"Token {token_id} is revoked.")


@click.group("audit")
def audit_group() -> None:
    """The audit log of staff actions.

    \b
    Example:
      mailer audit ls --json
    """


@audit_group.command("ls")
@click.option("--limit", default=50, show_default=True, type=click.IntRange(1, 10_000))
@click.option("--user", "actor", help="Only this user's actions (or 'cli').")
@click.option("--json", "as_json", is_flag=True, help="Print as JSON.")
@click.pass_context
def audit_ls(ctx: click.Context, limit: int, actor: str | None, as_json: bool) -> None:
    """Who did what, when, from where; newest first.

    \b
    Example:
      mailer audit ls --user editor@example.org --limit 20
    """
    with app(ctx).session() as s:
        rows = [audit.as_dict(e) for e in audit.entries(s, limit, actor=actor)]
    if as_json:
        print_json(rows)
        return
    for r in rows:
        # A failed login records the address as typed by anyone on the web: escape it.
        actor, source, target = shown(r["actor"]), shown(r["source"]), shown(r["target"])
        click.echo(f"{r['at'][:19]}  {actor:30} {source:15} {r['action']} {target}")


COMMANDS = [users_group, tokens_group, audit_group]
