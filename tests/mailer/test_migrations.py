from alembic import command
from sqlalchemy import Engine, inspect

from mailer.db import alembic_config, current_revision, head_revision, make_engine, upgrade


def test_upgrade_from_empty_then_check(db_url: str) -> None:
    """The per-test database was made by `upgrade head`; models and migrations agree."""
    engine = make_engine(db_url)
    assert current_revision(engine) == head_revision()
    assert {"subscribers", "lists", "subscriptions", "suppressions"} <= set(
        inspect(engine).get_table_names()
    )
    with engine.begin() as conn:
        command.check(alembic_config(conn))  # raises if they differ
    engine.dispose()


def test_downgrade_and_upgrade_again(engine: Engine) -> None:
    with engine.begin() as conn:
        command.downgrade(alembic_config(conn), "base")
    assert current_revision(engine) is None
    upgrade(engine)
    assert current_revision(engine) == head_revision()
