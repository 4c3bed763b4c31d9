"""An index for the dashboard: flow runs counted by creation time and state.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-27

With 100,000 runs, "runs by state over 30 days" read the table (400 ms on SQLite); with
(created_ts, state_type) it reads the index alone (134 ms). The new index also serves
everything the created_ts index did (it is a prefix), so that one goes.
"""

from __future__ import annotations

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_flow_runs_created_state", "flow_runs", ["created_ts", "state_type"])
    op.drop_index("ix_flow_runs_created", table_name="flow_runs")


def downgrade() -> None:
    op.create_index("ix_flow_runs_created", "flow_runs", ["created_ts"])
    op.drop_index("ix_flow_runs_created_state", table_name="flow_runs")
