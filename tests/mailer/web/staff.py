"""Builders for console and API tests: users of each role, their tokens, an app."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine

from mailer.accounts import tokens, users
from mailer.db import session_scope

PASSWORD = "a long enough password"


@dataclass
class Staff:
    admin: str
    editor: str
    viewer: str


def make_staff(engine: Engine) -> Staff:
    """An admin, an editor and a viewer with PASSWORD, and an API token each."""
    made = {}
    with session_scope(engine) as s:
        for role in ("admin", "editor", "viewer"):
            user = users.create_user(s, f"{role}@example.org", role)
            users.set_password(s, user, PASSWORD)
            _, made[role] = tokens.create_token(s, user.email, "test")
    return Staff(**made)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}
