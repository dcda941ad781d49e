"""The MIME message: built as bytes from parts prepared once per issue."""

from mailer.message.build import MessageFactory, OutgoingMessage, Recipient, SenderInfo
from mailer.message.dkim import DkimSigner

__all__ = ["DkimSigner", "MessageFactory", "OutgoingMessage", "Recipient", "SenderInfo"]
