"""Alembic environment: orkest always runs migrations on a connection it hands over.

There is no alembic.ini and no offline mode: `orkest.store.sql.migrate` builds the Config
in code, opens the transaction, takes the migration lock and passes the connection in
`config.attributes["connection"]`.
"""

from __future__ import annotations

from alembic import context

from orkest.store.sql.tables import in_dialect, metadata

connection = context.config.attributes.get("connection")
if connection is None or context.is_offline_mode():
    raise RuntimeError("orkest migrations run through orkest.store.sql.migrate.upgrade()")

context.configure(
    connection=connection,
    target_metadata=metadata,
    render_as_batch=True,  # SQLite alters tables by copying them
    include_object=lambda obj, name, type_, reflected, compare_to: in_dialect(
        connection.dialect.name, type_, name),
)
with context.begin_transaction():
    context.run_migrations()
