"""The service's exception tree.

Every error a user can cause derives from ``MailerError`` (or, for the
subscriber database, ``subscribers.errors.SubscribersError``); the CLI prints
their message and exits 1. Anything else is a bug and keeps its traceback.
"""


class MailerError(Exception):
    """Base of the errors the service raises on purpose."""


class SettingsError(MailerError):
    """The configuration file or MAILER_* variables are wrong; names each problem."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("invalid settings:\n  " + "\n  ".join(problems))
        self.problems = problems


class DatabaseNotReady(MailerError):
    """The database is missing or not migrated to the current schema."""


class ContentError(MailerError):
    """An issue file is wrong; the message names the file and, when known, the line."""

    def __init__(self, path: object, message: str, line: int | None = None) -> None:
        where = f"{path}:{line}" if line else f"{path}"
        super().__init__(f"{where}: {message}")
        self.path = path
        self.line = line
        self.message = message
