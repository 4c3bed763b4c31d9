"""The one Alembic migration tree of the SQL run store (see ../migrate.py)."""
