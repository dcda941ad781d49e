"""The subscriber database: models, queries, import/export, consent rules.

This package never imports :mod:`mailer`; the service builds on it, not the
other way round.
"""
