"""Putting an issue together for an audience: prepared templates and a message factory.

Used by the preview, test-send and check commands and by campaigns, so that
what staff preview is built by exactly the code that sends.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from email.utils import parseaddr

from sqlalchemy import select
from sqlalchemy.orm import Session

from mailer.bounces.mailto import mailto_maker
from mailer.content.issue import IssueSet
from mailer.message import DkimSigner, MessageFactory, Recipient, SenderInfo
from mailer.render import Audience, PreparedIssue, prepare_issue
from mailer.settings import Settings
from subscribers.errors import NotFound
from subscribers.lists import get_list
from subscribers.members import get_subscriber
from subscribers.models import MailingList, Subscription
from subscribers.tokens import Tokens

SAMPLE = Recipient(subscriber_id=0, email="reader@example.org", name="Sample Reader")
SAMPLE_LIST = MailingList(id=0, slug="sample", title="Sample list", description="")


@dataclass(frozen=True)
class Composition:
    prepared: PreparedIssue
    sender: SenderInfo
    tokens: Tokens
    signers: tuple[DkimSigner, ...]

    def factory(self, language: str | None) -> MessageFactory:
        variant = self.prepared.for_language(language)
        return MessageFactory(variant, self.sender, self.tokens, self.signers)


def signers_for(settings: Settings) -> tuple[DkimSigner, ...]:
    """RSA (MAILER_DKIM_*) and, optionally, a second ed25519 signature."""
    signers = []
    if settings.dkim_key_file:
        signers.append(
            DkimSigner.from_file(
                settings.dkim_selector, settings.dkim_domain, settings.dkim_key_file
            )
        )
    if settings.dkim_ed25519_key_file:
        signers.append(
            DkimSigner.from_file(
                settings.dkim_ed25519_selector, settings.dkim_domain, settings.dkim_ed25519_key_file
            )
        )
    return tuple(signers)


def tokens_for(settings: Settings) -> Tokens:
    # Without a configured key (a bare preview) links are signed with a
    # throw-away key: they look real but will not be accepted by the web app.
    return Tokens(settings.secret_key or secrets.token_urlsafe(32))


def feedback_id(settings: Settings, campaign_key: str, list_slug: str) -> str:
    """MAILER_FEEDBACK_ID filled in; the sender is the From domain (Gmail's SenderId)."""
    sender = parseaddr(settings.from_address)[1].rpartition("@")[2]
    return settings.feedback_id.format(campaign=campaign_key, list=list_slug, sender=sender)


def compose(
    issues: IssueSet,
    settings: Settings,
    mailing_list: MailingList,
    campaign_key: str,
    subject_prefix: str = "",
) -> Composition:
    audience = Audience(
        list_title=mailing_list.title,
        list_slug=mailing_list.slug,
        organization=settings.organization,
        postal_address=settings.postal_address,
        base_url=settings.base_url,
    )
    sender = SenderInfo(
        from_address=settings.from_address,
        base_url=settings.base_url,
        list_id=mailing_list.id,
        list_slug=mailing_list.slug,
        list_title=mailing_list.title,
        campaign_key=campaign_key,
        secret_key=settings.secret_key or "preview",
        subject_prefix=subject_prefix,
        # Only where the bounce mailbox can honour it (see mailer.bounces.mailto).
        unsubscribe_mailto=mailto_maker(
            settings.bounce_address, settings.secret_key, mailing_list.id
        )
        if settings.bounce_address and settings.secret_key
        else None,
        feedback_id=feedback_id(settings, campaign_key, mailing_list.slug),
    )
    return Composition(
        prepare_issue(issues, audience), sender, tokens_for(settings), signers_for(settings)
    )


def recipient_of(
    session: Session, email: str, mailing_list: MailingList
) -> tuple[Recipient, str | None]:
    """A real subscriber as a recipient, and their language; they must be on the list."""
    sub = get_subscriber(session, email)
    if (
        mailing_list.id
        and session.scalar(
            select(Subscription.status).where(
                Subscription.subscriber_id == sub.id, Subscription.list_id == mailing_list.id
            )
        )
        is None
    ):
        raise NotFound(f"{sub.email} is not subscribed to {mailing_list.slug!r}")
    return Recipient(sub.id, sub.email, sub.name, dict(sub.attributes), sub.link_key), sub.language


def list_for(session: Session | None, slug: str | None) -> MailingList:
    if slug is None or session is None:
        return SAMPLE_LIST
    return get_list(session, slug)
