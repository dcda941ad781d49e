"""Rendering: an issue becomes HTML and text templates, once per language variant."""

from mailer.render.prepare import Audience, PreparedIssue, PreparedVariant, prepare_issue
from mailer.render.split import SplitTemplate

__all__ = ["Audience", "PreparedIssue", "PreparedVariant", "SplitTemplate", "prepare_issue"]
