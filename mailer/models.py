"""All tables the service uses, on one metadata (what Alembic compares against)."""

from mailer.accounts import models as account_models
from mailer.campaigns import models as campaign_models
from mailer.issuestore import models as issue_models
from mailer.outbox import models as outbox_models
from subscribers.models import Base

metadata = Base.metadata

__all__ = ["Base", "account_models", "campaign_models", "issue_models", "metadata", "outbox_models"]
