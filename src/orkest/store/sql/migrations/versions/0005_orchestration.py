"""Deployments, work pools, workers, events and concurrency limits (issue #5).

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-27

Flow runs gain what the scheduler and workers need: the pool, a priority, the time the
run is due, a unique idempotency key (two schedulers cannot create one slot twice), the
worker that claimed it, the hash of the code it started from, and the event behind it.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

def _flow_run_columns() -> list[sa.Column]:
    return [
        sa.Column("work_pool", sa.String, nullable=True),
        sa.Column("priority", sa.Integer, nullable=False, server_default="0"),
        sa.Column("scheduled_ts", sa.Double, nullable=True),
        sa.Column("idempotency_key", sa.String, nullable=True),
        sa.Column("worker_id", sa.String, nullable=True),
        sa.Column("code_hash", sa.String, nullable=True),
        sa.Column("event_id", sa.String, nullable=True),
    ]


def upgrade() -> None:
    with op.batch_alter_table("flow_runs") as batch:
        for column in _flow_run_columns():
            batch.add_column(column)
    op.create_index("ux_flow_runs_idempotency_key", "flow_runs", ["idempotency_key"],
                    unique=True)
    op.create_index("ix_flow_runs_pool_state", "flow_runs",
                    ["work_pool", "state_type", "scheduled_ts"])
    op.create_index("ix_flow_runs_deployment_state", "flow_runs",
                    ["deployment_id", "state_type"])
    op.create_table(
        "deployments",
        sa.Column("id", sa.String, primary_key=True),
        sa.Column("flow_name", sa.String, nullable=False),
        sa.Column("name", sa.String, nullable=False),
        sa.Column("entrypoint", sa.String, nullable=False),
        sa.Column("created_ts", sa.Double, nullable=False),
        sa.Column("updated_ts", sa.Double, nullable=False),
        sa.Column("parameters", sa.JSON, nullable=False),
        sa.Column("parameter_schema", sa.JSON(none_as_null=True), nullable=True),
        sa.Column("schedules", sa.JSON, nullable=False),
        sa.Column("triggers", sa.JSON, nullable=False),
        sa.Column("work_pool", sa.String, nullable=False),
        sa.Column("concurrency_limit", sa.Integer, nullable=True),
        sa.Column("catchup", sa.Boolean, nullable=False),
        sa.Column("tags", sa.JSON, nullable=False),
        sa.Column("paused", sa.Boolean, nullable=False),
        sa.Column("description", sa.Text, nullable=True),
        sa.Column("priority", sa.Integer, nullable=False),
        sa.Column("retries", sa.Integer, nullable=False),
        sa.Column("grace_seconds", sa.Double, nullable=False),
        sa.Column("code_hash", sa.String, nullable=True),
        sa.Column("last_slot_ts", sa.Double, nullable=True),
    )
    op.create_index("ux_deployments_flow_name", "deployments", ["flow_name", "name"],
                    unique=True)
    op.create_table(
        "work_pools",
        sa.Column("name", sa.String, primary_key=True),
        sa.Column("created_ts", sa.Double, nullable=False),
        sa.Column("concurrency_limit", sa.Integer, nullable=True),
        sa.Column("paused", sa.Boolean, nullable=False),
        sa.Column("description", sa.Text, nullable=True),
    )
    op.create_table(
        "workers",
        sa.Column("id", sa.String, primary_key=True),
        sa.Column("name", sa.String, nullable=False),
        sa.Column("work_pool", sa.String, nullable=False),
        sa.Column("hostname", sa.String, nullable=False),
        sa.Column("pid", sa.Integer, nullable=False),
        sa.Column("started_ts", sa.Double, nullable=False),
        sa.Column("heartbeat_ts", sa.Double, nullable=False),
        sa.Column("concurrency", sa.Integer, nullable=False),
        sa.Column("running", sa.Integer, nullable=False),
        sa.Column("status", sa.String, nullable=False),
    )
    op.create_index("ix_workers_pool_heartbeat", "workers", ["work_pool", "heartbeat_ts"])
    op.create_table(
        "events",
        sa.Column("id", sa.String, primary_key=True),
        sa.Column("name", sa.String, nullable=False),
        sa.Column("ts", sa.Double, nullable=False),
        sa.Column("source", sa.String, nullable=False),
        sa.Column("payload", sa.JSON(none_as_null=True), nullable=True),
        sa.Column("resource", sa.Text, nullable=True),
        sa.Column("flow_run_ids", sa.JSON, nullable=False),
    )
    op.create_index("ix_events_ts", "events", ["ts"])
    op.create_index("ix_events_name_ts", "events", ["name", "ts"])
    op.create_table(
        "concurrency_limits",
        sa.Column("tag", sa.String, primary_key=True),
        sa.Column("limit", sa.Integer, nullable=False),
        sa.Column("created_ts", sa.Double, nullable=False),
    )
    op.create_table(
        "concurrency_slots",
        sa.Column("tag", sa.String, primary_key=True),
        sa.Column("holder", sa.String, primary_key=True),
        sa.Column("flow_run_id", sa.String, nullable=True),
        sa.Column("acquired_ts", sa.Double, nullable=False),
        sa.Column("lease_until", sa.Double, nullable=False),
    )
    op.create_index("ix_concurrency_slots_flow_run", "concurrency_slots", ["flow_run_id"])


def downgrade() -> None:
    for table in ("concurrency_slots", "concurrency_limits", "events", "workers",
                  "work_pools", "deployments"):
        op.drop_table(table)
    for index in ("ix_flow_runs_deployment_state", "ix_flow_runs_pool_state",
                  "ux_flow_runs_idempotency_key"):
        op.drop_index(index, table_name="flow_runs")
    with op.batch_alter_table("flow_runs") as batch:
        for column in reversed(_flow_run_columns()):
            batch.drop_column(column.name)
