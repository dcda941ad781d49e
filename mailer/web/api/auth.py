"""Bearer tokens for the API: no token or a bad one → 401, a role short of the need → 403."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from mailer.accounts.models import Role, User
from mailer.accounts.tokens import token_user
from mailer.db import session_scope
from mailer.web.api.problems import ApiProblem
from mailer.web.staff import web_state

bearer = HTTPBearer(auto_error=False, description="An API token from `mailer tokens create`")
CHALLENGE = {"WWW-Authenticate": 'Bearer realm="mailer"'}


def api_user(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> User:
    if credentials is None:
        raise ApiProblem(401, "send an API token: Authorization: Bearer <token>", CHALLENGE)
    with session_scope(web_state(request).db) as s:
        user = token_user(s, credentials.credentials)
        if user is not None:
            s.expunge(user)
    if user is None:
        raise ApiProblem(
            401, "the token is not valid (unknown, revoked or its user disabled)", CHALLENGE
        )
    return user


def need(role: Role) -> Callable[[User], User]:
    def check(user: Annotated[User, Depends(api_user)]) -> User:
        if not Role(user.role).allows(role):
            raise ApiProblem(
                403, f"this needs the {role.value} role; the token's user is {user.role}"
            )
        return user

    return check


Viewer = Annotated[User, Depends(need(Role.VIEWER))]
Editor = Annotated[User, Depends(need(Role.EDITOR))]
Admin = Annotated[User, Depends(need(Role.ADMIN))]
