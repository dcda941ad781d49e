"""Exceptions raised by the subscriber services.

One tree, so a caller (the CLI, the web app) can catch ``SubscribersError``
and show its message: every message is written for the person who caused it.
"""


class SubscribersError(Exception):
    """Base of every error this package raises on purpose."""


class NotFound(SubscribersError):
    """A list or subscriber named by the caller does not exist."""


class ListNotFound(NotFound):
    """No list has that name (the CLI adds where to see the names)."""


class AlreadyExists(SubscribersError):
    """Creating something whose unique name is taken."""


class InvalidInput(SubscribersError):
    """A value the caller gave is not acceptable; ``field`` names it."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.reason = message


class Suppressed(SubscribersError):
    """The address is on the suppression list and may not be (re)subscribed."""


class ImportFailed(SubscribersError):
    """A problem with the whole import file; nothing was written."""
