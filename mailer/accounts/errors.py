"""Errors of the accounts service (the CLI prints them; the web maps them to 401/403/429)."""

from mailer.errors import MailerError


class AccountError(MailerError):
    """A user or token request that cannot be done (unknown user, bad role, weak password)."""


class LoginFailed(MailerError):
    """Wrong address or password, a disabled account, or a used link: one message for all."""


class RateLimited(MailerError):
    """Too many failed logins for this account or from this client."""
