"""The REST API under /api/v1: its own FastAPI app (and OpenAPI document), mounted."""

from __future__ import annotations

from fastapi import FastAPI

from mailer.web.api import campaigns, issues, lists, problems


def install(app: FastAPI) -> None:
    api = FastAPI(
        title="mailer API",
        version="1",
        summary="Lists, subscribers, issues and campaigns, for integrators",
        docs_url=None,
        redoc_url=None,
    )
    api.state.web = app.state.web
    api.state.staff = app.state.staff
    problems.install(api)
    for module in (lists, issues, campaigns):
        api.include_router(module.router)
    app.mount("/api/v1", api)
