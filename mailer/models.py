"""All tables the service uses, on one metadata (what Alembic compares against)."""

from mailer.campaigns import models as campaign_models
from mailer.outbox import models as outbox_models
from subscribers.models import Base

metadata = Base.metadata

__all__ = ["Base", "campaign_models", "metadata", "outbox_models"]
