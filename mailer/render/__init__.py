"""Rendering: an issue becomes HTML and text templates, once per language variant."""

from mailer.render.context import Audience
from mailer.render.prepare import PreparedIssue, PreparedVariant, prepare_issue
from mailer.render.split import SplitTemplate

__all__ = ["Audience", "PreparedIssue", "PreparedVariant", "SplitTemplate", "prepare_issue"]
