"""Alembic's entry point: migrations run on the connection (and transaction) store.migrate opened."""

from alembic import context

from dynaquery.store import metadata

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
