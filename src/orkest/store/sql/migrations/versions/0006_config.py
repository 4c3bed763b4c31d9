"""The configuration store: variables, encrypted secrets, blocks, automations (issue #6).

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "variables",
        sa.Column("name", sa.String, primary_key=True),
        sa.Column("value", sa.JSON(none_as_null=True), nullable=True),
        sa.Column("created_ts", sa.Double, nullable=False),
        sa.Column("updated_ts", sa.Double, nullable=False),
    )
    op.create_table(
        "secrets",
        sa.Column("name", sa.String, primary_key=True),
        sa.Column("ciphertext", sa.LargeBinary, nullable=False),
        sa.Column("key_id", sa.String, nullable=False),
        sa.Column("created_ts", sa.Double, nullable=False),
        sa.Column("updated_ts", sa.Double, nullable=False),
    )
    op.create_table(
        "blocks",
        sa.Column("block_type", sa.String, primary_key=True),
        sa.Column("name", sa.String, primary_key=True),
        sa.Column("data", sa.JSON, nullable=False),
        sa.Column("secret_fields", sa.JSON, nullable=False),
        sa.Column("secret_values", sa.JSON, nullable=False),
        sa.Column("schema_version", sa.String, nullable=False),
        sa.Column("created_ts", sa.Double, nullable=False),
        sa.Column("updated_ts", sa.Double, nullable=False),
    )
    op.create_table(
        "automations",
        sa.Column("id", sa.String, primary_key=True),
        sa.Column("name", sa.String, nullable=False),
        sa.Column("block_type", sa.String, nullable=False),
        sa.Column("block_name", sa.String, nullable=False),
        sa.Column("created_ts", sa.Double, nullable=False),
        sa.Column("deployment_id", sa.String, nullable=True),
        sa.Column("flow_name", sa.String, nullable=True),
        sa.Column("states", sa.JSON, nullable=False),
        sa.Column("running_longer_than", sa.Double, nullable=True),
        sa.Column("message", sa.Text, nullable=True),
        sa.Column("enabled", sa.Boolean, nullable=False),
        sa.Column("last_checked_ts", sa.Double, nullable=True),
    )
    op.create_table(
        "automation_firings",
        sa.Column("automation_id", sa.String, primary_key=True),
        sa.Column("flow_run_id", sa.String, primary_key=True),
        sa.Column("kind", sa.String, primary_key=True),
        sa.Column("ts", sa.Double, nullable=False),
    )


def downgrade() -> None:
    for table in ("automation_firings", "automations", "blocks", "secrets", "variables"):
        op.drop_table(table)
