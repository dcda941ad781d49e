"""Issues as authored: Markdown or HTML files with YAML front matter."""

from mailer.content.issue import Issue, IssueSet, load_issue, load_issue_set

__all__ = ["Issue", "IssueSet", "load_issue", "load_issue_set"]
