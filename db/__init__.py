"""duban's database layer: typed SQLAlchemy 2 models, Alembic migrations, session helpers.

Pure logic (deadlines, rules, scoring, rendering) never imports this package; flows and tasks do.
The schema is created only by the migrations in ``db/migrations`` (see ``db.migrate``).
"""
