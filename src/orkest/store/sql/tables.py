"""The SQL schema, written once for every dialect (SQLAlchemy Core).

Columns mirror the record dataclasses in core/records.py field for field, so rows and
records convert by name. Times are epoch seconds in DOUBLE columns; a StateType is stored
as its string value. JSON stays plain JSON on PostgreSQL (not JSONB) so that parameters
keep their order. There are no foreign keys: the engine writes runs, states and logs in
batches of any order, and a per-row lookup on that hot path would buy nothing.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Double,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
)

metadata = MetaData()

# SQLite needs INTEGER PRIMARY KEY (a rowid alias) to autoincrement; PostgreSQL gets BIGINT.
Serial = BigInteger().with_variant(Integer(), "sqlite")


# Indexes only PostgreSQL gets; Alembic's comparison is told (see in_dialect).
POSTGRESQL_ONLY_INDEXES = frozenset({"ix_flow_runs_id_prefix", "ix_task_runs_id_prefix"})


def _id_prefix_index(table: str) -> Index:
    """PostgreSQL's default collation cannot serve `id LIKE 'ab12%'` from the primary key."""
    name = f"ix_{table}_id_prefix"
    assert name in POSTGRESQL_ONLY_INDEXES
    return Index(name, "id", postgresql_ops={"id": "text_pattern_ops"}
                 ).ddl_if(dialect="postgresql")


def in_dialect(dialect: str, type_: str, name: str | None) -> bool:
    """Whether a schema object exists on `dialect` (Alembic's include_object hook)."""
    return not (type_ == "index" and name in POSTGRESQL_ONLY_INDEXES
                and dialect != "postgresql")


flow_runs = Table(
    "flow_runs",
    metadata,
    Column("id", String, primary_key=True),
    Column("flow_name", String, nullable=False),
    Column("name", String, nullable=False),
    Column("state_type", String, nullable=False),
    Column("state_name", String, nullable=False),
    Column("state_ts", Double, nullable=False),
    Column("created_ts", Double, nullable=False),
    Column("state_message", Text),
    Column("flow_version", String),
    Column("parameters", JSON, nullable=False),
    Column("tags", JSON, nullable=False),
    Column("parent_flow_run_id", String),
    Column("parent_task_run_id", String),
    Column("start_ts", Double),
    Column("end_ts", Double),
    Column("run_count", Integer, nullable=False),
    Column("retries", Integer, nullable=False),
    Column("task_runner", String),
    Column("result_ref", String),
    Column("failure_type", String),
    Column("failure_traceback", Text),
    Column("deployment_id", String),
    Column("entrypoint", String),
    Column("logical_ts", Double),
    Column("hostname", String),
    Column("pid", Integer),
    Column("heartbeat_ts", Double),
    Column("requested_action", String),
    Column("requested_payload", JSON(none_as_null=True)),
    Column("graph", JSON(none_as_null=True)),
    Column("work_pool", String),
    Column("priority", Integer, nullable=False, server_default="0"),
    Column("scheduled_ts", Double),
    Column("idempotency_key", String),
    Column("worker_id", String),
    Column("code_hash", String),
    Column("event_id", String),
    Index("ix_flow_runs_created_state", "created_ts", "state_type"),
    Index("ux_flow_runs_idempotency_key", "idempotency_key", unique=True),
    Index("ix_flow_runs_pool_state", "work_pool", "state_type", "scheduled_ts"),
    Index("ix_flow_runs_deployment_state", "deployment_id", "state_type"),
    Index("ix_flow_runs_created_id", "created_ts", "id"),
    Index("ix_flow_runs_flow_name_created", "flow_name", "created_ts"),
    Index("ix_flow_runs_state_type_created", "state_type", "created_ts"),
    Index("ix_flow_runs_parent", "parent_flow_run_id"),
    _id_prefix_index("flow_runs"),
)

task_runs = Table(
    "task_runs",
    metadata,
    Column("id", String, primary_key=True),
    Column("flow_run_id", String),
    Column("task_name", String, nullable=False),
    Column("task_key", String, nullable=False),
    Column("dynamic_key", String, nullable=False),
    Column("name", String, nullable=False),
    Column("state_type", String, nullable=False),
    Column("state_name", String, nullable=False),
    Column("state_ts", Double, nullable=False),
    Column("created_ts", Double, nullable=False),
    Column("state_message", Text),
    Column("tags", JSON, nullable=False),
    Column("parameters", JSON, nullable=False),
    Column("upstream", JSON, nullable=False),
    Column("start_ts", Double),
    Column("end_ts", Double),
    Column("run_count", Integer, nullable=False),
    Column("retries", Integer, nullable=False),
    Column("cache_key", String),
    Column("result_ref", String),
    Column("failure_type", String),
    Column("failure_traceback", Text),
    Column("cpu_seconds", Double),
    Column("peak_rss_bytes", BigInteger),
    Column("resource_scope", String),
    Column("runner", String),
    Index("ix_task_runs_flow_run_created", "flow_run_id", "created_ts"),
    Index("ix_task_runs_created", "created_ts"),
    _id_prefix_index("task_runs"),
)

state_history = Table(
    "state_history",
    metadata,
    Column("id", Serial, primary_key=True, autoincrement=True),
    Column("run_id", String, nullable=False),
    Column("run_kind", String, nullable=False),
    Column("type", String, nullable=False),
    Column("name", String, nullable=False),
    Column("ts", Double, nullable=False),
    Column("message", Text),
    Index("ix_state_history_run", "run_id", "id"),
)

logs = Table(
    "logs",
    metadata,
    Column("id", Serial, primary_key=True, autoincrement=True),
    Column("flow_run_id", String),
    Column("task_run_id", String),
    Column("ts", Double, nullable=False),
    Column("level", Integer, nullable=False),
    Column("logger", String, nullable=False),
    Column("message", Text, nullable=False),
    Column("source", String, nullable=False),
    Index("ix_logs_flow_run", "flow_run_id", "id"),
)

results = Table(
    "results",
    metadata,
    Column("key", String, primary_key=True),
    Column("serializer", String, nullable=False),
    Column("data", LargeBinary, nullable=False),
    Column("created_ts", Double, nullable=False),
)

cache_entries = Table(
    "cache_entries",
    metadata,
    Column("id", Serial, primary_key=True, autoincrement=True),
    Column("key", String, nullable=False),
    Column("result_ref", String, nullable=False),
    Column("created_ts", Double, nullable=False),
    Column("expires_ts", Double),
    Column("task_run_id", String),
    Index("ix_cache_entries_key_created", "key", "created_ts"),
)

deployments = Table(
    "deployments",
    metadata,
    Column("id", String, primary_key=True),
    Column("flow_name", String, nullable=False),
    Column("name", String, nullable=False),
    Column("entrypoint", String, nullable=False),
    Column("created_ts", Double, nullable=False),
    Column("updated_ts", Double, nullable=False),
    Column("parameters", JSON, nullable=False),
    Column("parameter_schema", JSON(none_as_null=True)),
    Column("schedules", JSON, nullable=False),
    Column("triggers", JSON, nullable=False),
    Column("work_pool", String, nullable=False),
    Column("concurrency_limit", Integer),
    Column("catchup", Boolean, nullable=False),
    Column("tags", JSON, nullable=False),
    Column("paused", Boolean, nullable=False),
    Column("description", Text),
    Column("priority", Integer, nullable=False),
    Column("retries", Integer, nullable=False),
    Column("grace_seconds", Double, nullable=False),
    Column("code_hash", String),
    Column("last_slot_ts", Double),
    Index("ux_deployments_flow_name", "flow_name", "name", unique=True),
)

work_pools = Table(
    "work_pools",
    metadata,
    Column("name", String, primary_key=True),
    Column("created_ts", Double, nullable=False),
    Column("concurrency_limit", Integer),
    Column("paused", Boolean, nullable=False),
    Column("description", Text),
)

workers = Table(
    "workers",
    metadata,
    Column("id", String, primary_key=True),
    Column("name", String, nullable=False),
    Column("work_pool", String, nullable=False),
    Column("hostname", String, nullable=False),
    Column("pid", Integer, nullable=False),
    Column("started_ts", Double, nullable=False),
    Column("heartbeat_ts", Double, nullable=False),
    Column("concurrency", Integer, nullable=False),
    Column("running", Integer, nullable=False),
    Column("status", String, nullable=False),
    Index("ix_workers_pool_heartbeat", "work_pool", "heartbeat_ts"),
)

events = Table(
    "events",
    metadata,
    Column("id", String, primary_key=True),
    Column("name", String, nullable=False),
    Column("ts", Double, nullable=False),
    Column("source", String, nullable=False),
    Column("payload", JSON(none_as_null=True)),
    Column("resource", Text),
    Column("flow_run_ids", JSON, nullable=False),
    Index("ix_events_ts", "ts"),
    Index("ix_events_name_ts", "name", "ts"),
)

concurrency_limits = Table(
    "concurrency_limits",
    metadata,
    Column("tag", String, primary_key=True),
    Column("limit", Integer, nullable=False),
    Column("created_ts", Double, nullable=False),
)

# A slot is held by one task run of a limited tag until released or its lease runs out
# (the owning process renews the lease with its heartbeat; a dead one stops renewing).
concurrency_slots = Table(
    "concurrency_slots",
    metadata,
    Column("tag", String, primary_key=True),
    Column("holder", String, primary_key=True),
    Column("flow_run_id", String),
    Column("acquired_ts", Double, nullable=False),
    Column("lease_until", Double, nullable=False),
    Index("ix_concurrency_slots_flow_run", "flow_run_id"),
)

variables = Table(
    "variables",
    metadata,
    Column("name", String, primary_key=True),
    Column("value", JSON(none_as_null=True)),
    Column("created_ts", Double, nullable=False),
    Column("updated_ts", Double, nullable=False),
)

secrets = Table(
    "secrets",
    metadata,
    Column("name", String, primary_key=True),
    Column("ciphertext", LargeBinary, nullable=False),
    Column("key_id", String, nullable=False),
    Column("created_ts", Double, nullable=False),
    Column("updated_ts", Double, nullable=False),
)

blocks = Table(
    "blocks",
    metadata,
    Column("block_type", String, primary_key=True),
    Column("name", String, primary_key=True),
    Column("data", JSON, nullable=False),
    Column("secret_fields", JSON, nullable=False),
    # Each secret field as {"ciphertext": base64, "key_id": ...} (see store/crypto.py).
    Column("secret_values", JSON, nullable=False),
    Column("schema_version", String, nullable=False),
    Column("created_ts", Double, nullable=False),
    Column("updated_ts", Double, nullable=False),
)

automations = Table(
    "automations",
    metadata,
    Column("id", String, primary_key=True),
    Column("name", String, nullable=False),
    Column("block_type", String, nullable=False),
    Column("block_name", String, nullable=False),
    Column("created_ts", Double, nullable=False),
    Column("deployment_id", String),
    Column("flow_name", String),
    Column("states", JSON, nullable=False),
    Column("running_longer_than", Double),
    Column("message", Text),
    Column("enabled", Boolean, nullable=False),
    Column("last_checked_ts", Double),
)

# One row per notification an automation sent (or tried to): the primary key makes each
# (automation, run, kind) fire once, across restarts and two services at once.
automation_firings = Table(
    "automation_firings",
    metadata,
    Column("automation_id", String, primary_key=True),
    Column("flow_run_id", String, primary_key=True),
    Column("kind", String, primary_key=True),
    Column("ts", Double, nullable=False),
)

# The tables a run's snapshot upserts into, and the columns a snapshot never overwrites.
REQUEST_COLUMNS = ("requested_action", "requested_payload")
