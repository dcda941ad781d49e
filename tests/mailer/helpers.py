"""Shared builders for message tests: the example issue, prepared once."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from mailer.content import load_issue_set
from mailer.message import DkimSigner, MessageFactory, SenderInfo
from mailer.render import Audience, PreparedIssue, prepare_issue
from subscribers.tokens import Tokens

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples/issues/lmec-2021-issue-7.md"
SECRET = "test-secret-key"


@cache
def example_prepared() -> PreparedIssue:
    audience = Audience(
        "LMEC Newsletter",
        "lmec-news",
        "LMEC",
        "No.5 Houyingfang Hutong, Beijing",
        "https://news.example.org",
    )
    return prepare_issue(load_issue_set(EXAMPLE), audience)


def sender(**overrides: object) -> SenderInfo:
    base = dict(
        from_address="LMEC 澜湄环境合作中心 <news@example.org>",
        base_url="https://news.example.org",
        list_id=3,
        list_slug="lmec-news",
        list_title="LMEC Newsletter",
        campaign_key="42",
        secret_key=SECRET,
    )
    base.update(overrides)
    return SenderInfo(**base)  # type: ignore[arg-type]


def factory(*signers: DkimSigner, **overrides: object) -> MessageFactory:
    return MessageFactory(
        example_prepared().for_language("en"), sender(**overrides), Tokens(SECRET), signers
    )
