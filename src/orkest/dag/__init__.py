"""Airflow-style DAGs on the orkest engine (SPEC §2)."""

from orkest.dag.baseoperator import BaseOperator
from orkest.dag.context import TaskInstance
from orkest.dag.dag import DAG, DagFlow, chain
from orkest.dag.taskflow import XComArg
from orkest.dag.trigger_rules import TriggerRule

__all__ = ["DAG", "BaseOperator", "DagFlow", "TaskInstance", "TriggerRule", "XComArg", "chain"]
