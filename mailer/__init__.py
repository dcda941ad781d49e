"""mailer: a self-hosted email newsletter service."""

__version__ = "0.1.0"
