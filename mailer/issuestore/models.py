"""Stored issues and their versions.

A version holds every language variant's file name and text, in the same
shape as a campaign's snapshot (``{language: {"name", "text"}}``), so a
stored issue is loaded, previewed and sent by the code that reads files.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from subscribers.models import Base, JSONType, UTCDateTime, utcnow


class StoredIssue(Base):
    __tablename__ = "issues"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    slug: Mapped[str] = mapped_column(String(100), unique=True)
    subject: Mapped[str] = mapped_column(String(250))
    latest_version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class IssueVersion(Base):
    __tablename__ = "issue_versions"
    __table_args__ = (UniqueConstraint("issue_id", "version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    issue_id: Mapped[int] = mapped_column(ForeignKey("issues.id", ondelete="CASCADE"))
    version: Mapped[int] = mapped_column(Integer)
    default_language: Mapped[str] = mapped_column(String(35))
    sources: Mapped[dict[str, Any]] = mapped_column(JSONType)
    author: Mapped[str] = mapped_column(String(254))  # a user's email, or "cli"
    note: Mapped[str] = mapped_column(String(250), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
