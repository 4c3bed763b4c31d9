"""Airflow-style operators (SPEC §2)."""

from orkest.dag.baseoperator import BaseOperator
from orkest.operators.bash import BashOperator
from orkest.operators.empty import EmptyOperator
from orkest.operators.python import BranchPythonOperator, PythonOperator, ShortCircuitOperator
from orkest.operators.sensors import FileSensor

__all__ = [
    "BaseOperator",
    "BashOperator",
    "BranchPythonOperator",
    "EmptyOperator",
    "FileSensor",
    "PythonOperator",
    "ShortCircuitOperator",
]
