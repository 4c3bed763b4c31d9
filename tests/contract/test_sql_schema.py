"""The SQL backends' schema: what the migrations build is what tables.py declares."""

from __future__ import annotations


def test_migrated_schema_matches_tables(sql_store):
    """0001_initial.py spells the schema out; tables.py must say the same."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from orkest.store.sql.tables import in_dialect, metadata

    with sql_store._engine.connect() as conn:
        def include(obj, name, type_, reflected, compare_to):
            return in_dialect(conn.dialect.name, type_, name)

        context = MigrationContext.configure(conn, opts={"include_object": include,
                                                         "compare_type": True})
        diff = compare_metadata(context, metadata)
    assert diff == []
