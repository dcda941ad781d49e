"""All tables the service uses, on one metadata (what Alembic compares against).

The subscriber tables come from the ``subscribers`` package; the service's
own tables are added to the same ``Base`` by later modules imported here.
"""

from subscribers.models import Base

metadata = Base.metadata

__all__ = ["Base", "metadata"]
