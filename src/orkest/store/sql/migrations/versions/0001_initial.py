"""The initial schema: runs, state history, logs, small results, cache entries.

Revision ID: 0001
Revises:
Create Date: 2026-01-01

A migration is frozen history, so it spells its tables out instead of importing
tables.py; a test compares the migrated schema with tables.py to catch drift.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

_SERIAL = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "flow_runs",
        sa.Column("id", sa.String(), primary_key=True),
        sa.Column("flow_name", sa.String(), nullable=False),
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("state_type", sa.String(), nullable=False),
        sa.Column("state_name", sa.String(), nullable=False),
        sa.Column("state_ts", sa.Double(), nullable=False),
        sa.Column("created_ts", sa.Double(), nullable=False),
        sa.Column("state_message", sa.Text()),
        sa.Column("flow_version", sa.String()),
        sa.Column("parameters", sa.JSON(), nullable=False),
        sa.Column("tags", sa.JSON(), nullable=False),
        sa.Column("parent_flow_run_id", sa.String()),
        sa.Column("parent_task_run_id", sa.String()),
        sa.Column("start_ts", sa.Double()),
        sa.Column("end_ts", sa.Double()),
        sa.Column("run_count", sa.Integer(), nullable=False),
        sa.Column("retries", sa.Integer(), nullable=False),
        sa.Column("task_runner", sa.String()),
        sa.Column("result_ref", sa.String()),
        sa.Column("failure_type", sa.String()),
        sa.Column("failure_traceback", sa.Text()),
        sa.Column("deployment_id", sa.String()),
        sa.Column("entrypoint", sa.String()),
        sa.Column("logical_ts", sa.Double()),
        sa.Column("hostname", sa.String()),
        sa.Column("pid", sa.Integer()),
        sa.Column("heartbeat_ts", sa.Double()),
        sa.Column("requested_action", sa.String()),
        sa.Column("requested_payload", sa.JSON(none_as_null=True)),
    )
    op.create_index("ix_flow_runs_created", "flow_runs", ["created_ts"])
    op.create_index("ix_flow_runs_flow_name_created", "flow_runs", ["flow_name", "created_ts"])
    op.create_index("ix_flow_runs_state_type_created", "flow_runs",
                    ["state_type", "created_ts"])
    op.create_index("ix_flow_runs_parent", "flow_runs", ["parent_flow_run_id"])

    op.create_table(
        "task_runs",
        sa.Column("id", sa.String(), primary_key=True),
        sa.Column("flow_run_id", sa.String()),
        sa.Column("task_name", sa.String(), nullable=False),
        sa.Column("task_key", sa.String(), nullable=False),
        sa.Column("dynamic_key", sa.String(), nullable=False),
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("state_type", sa.String(), nullable=False),
        sa.Column("state_name", sa.String(), nullable=False),
        sa.Column("state_ts", sa.Double(), nullable=False),
        sa.Column("created_ts", sa.Double(), nullable=False),
        sa.Column("state_message", sa.Text()),
        sa.Column("tags", sa.JSON(), nullable=False),
        sa.Column("parameters", sa.JSON(), nullable=False),
        sa.Column("upstream", sa.JSON(), nullable=False),
        sa.Column("start_ts", sa.Double()),
        sa.Column("end_ts", sa.Double()),
        sa.Column("run_count", sa.Integer(), nullable=False),
        sa.Column("retries", sa.Integer(), nullable=False),
        sa.Column("cache_key", sa.String()),
        sa.Column("result_ref", sa.String()),
        sa.Column("failure_type", sa.String()),
        sa.Column("failure_traceback", sa.Text()),
        sa.Column("cpu_seconds", sa.Double()),
        sa.Column("peak_rss_bytes", sa.BigInteger()),
        sa.Column("resource_scope", sa.String()),
        sa.Column("runner", sa.String()),
    )
    op.create_index("ix_task_runs_flow_run_created", "task_runs", ["flow_run_id", "created_ts"])
    op.create_index("ix_task_runs_created", "task_runs", ["created_ts"])

    if op.get_bind().dialect.name == "postgresql":
        # Prefix lookups (`LIKE 'ab12%'`) cannot use a primary key in a non-C collation.
        for table in ("flow_runs", "task_runs"):
            op.create_index(f"ix_{table}_id_prefix", table, ["id"],
                            postgresql_ops={"id": "text_pattern_ops"})

    op.create_table(
        "state_history",
        sa.Column("id", _SERIAL, primary_key=True, autoincrement=True),
        sa.Column("run_id", sa.String(), nullable=False),
        sa.Column("run_kind", sa.String(), nullable=False),
        sa.Column("type", sa.String(), nullable=False),
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("ts", sa.Double(), nullable=False),
        sa.Column("message", sa.Text()),
    )
    op.create_index("ix_state_history_run", "state_history", ["run_id", "id"])

    op.create_table(
        "logs",
        sa.Column("id", _SERIAL, primary_key=True, autoincrement=True),
        sa.Column("flow_run_id", sa.String()),
        sa.Column("task_run_id", sa.String()),
        sa.Column("ts", sa.Double(), nullable=False),
        sa.Column("level", sa.Integer(), nullable=False),
        sa.Column("logger", sa.String(), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("source", sa.String(), nullable=False),
    )
    op.create_index("ix_logs_flow_run", "logs", ["flow_run_id", "id"])

    op.create_table(
        "results",
        sa.Column("key", sa.String(), primary_key=True),
        sa.Column("serializer", sa.String(), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.Column("created_ts", sa.Double(), nullable=False),
    )

    op.create_table(
        "cache_entries",
        sa.Column("id", _SERIAL, primary_key=True, autoincrement=True),
        sa.Column("key", sa.String(), nullable=False),
        sa.Column("result_ref", sa.String(), nullable=False),
        sa.Column("created_ts", sa.Double(), nullable=False),
        sa.Column("expires_ts", sa.Double()),
        sa.Column("task_run_id", sa.String()),
    )
    op.create_index("ix_cache_entries_key_created", "cache_entries", ["key", "created_ts"])


def downgrade() -> None:
    for table in ("cache_entries", "results", "logs", "state_history", "task_runs",
                  "flow_runs"):
        op.drop_table(table)
