"""Alembic environment, driven programmatically by ``db.migrate`` (there is no alembic.ini).

``db.migrate`` hands us an open connection in ``config.attributes["connection"]``; the SQLite
engine it uses has foreign keys OFF because batch mode rebuilds tables (copy, drop, rename).
"""

from __future__ import annotations

from alembic import context

from db.models import Base

config = context.config
target_metadata = Base.metadata

CONFIGURE_OPTIONS = {
    "target_metadata": target_metadata,
    "render_as_batch": True,  # SQLite cannot ALTER most things; batch mode rebuilds the table
    "compare_type": True,
}


def run_migrations_offline() -> None:
    """``--sql`` mode: emit the SQL for a URL without connecting."""
    context.configure(
        url=config.get_main_option("sqlalchemy.url"),
        literal_binds=True,
        dialect_opts={"paramstyle": "named"},
        **CONFIGURE_OPTIONS,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is None:
        from db.migrate import migration_engine

        engine = migration_engine(config.get_main_option("sqlalchemy.url"))
        try:
            with engine.begin() as conn:
                _run(conn)
        finally:
            engine.dispose()
    else:
        _run(connection)


def _run(connection: object) -> None:
    context.configure(connection=connection, **CONFIGURE_OPTIONS)
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
