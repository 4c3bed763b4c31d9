"""Workloads of ``bench/dag_overhead.py``: the DAGs, written once for orkest and Airflow.

Two uses:

* ``python _dag_worker.py SPEC`` runs one workload once in a fresh process (started by
  ``dag_overhead.py`` with the interpreter of the framework under test).  SPEC is JSON::

      {"framework": "orkest", "workload": "chain", "n": 1000, "warmup": 3,
       "result_path": "/tmp/....json"}

  ``define`` / ``define_taskflow`` work on both frameworks; ``chain``, ``fan`` (run with
  ``dag.test()``) and ``plain`` are orkest's in-process side (Airflow's runs go through
  ``airflow dags test``, see ``_airflow_cli.py``).

* the DAG files that ``_airflow_cli.py`` writes for ``airflow dags test`` import this
  module and call :func:`build`, so Airflow runs exactly the DAGs defined here.

Only the API names differ between the frameworks (:func:`load_api`); the callables, task
ids, edges and XCom traffic are the same.
"""

from __future__ import annotations

import json
import sys
import time
from types import SimpleNamespace

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

# Written by the last task of a chain / the join of a fan, so a run can be checked.
RESULT: dict[str, Any] = {}


# --------------------------------------------------------------------------
# The task callables (context values are injected by parameter name: ``ti``)
# --------------------------------------------------------------------------


def step(ti: Any, prev: str | None = None, record: bool = False) -> int:
    """Pull the upstream task's return value over XCom and return it plus one."""
    value = (ti.xcom_pull(task_ids=prev) if prev else 0) + 1
    if record:
        RESULT["value"] = value
    return value


def join(ti: Any, parts: list[str], record: bool = False) -> int:
    """Pull every middle task's value (one XCom pull of the list) and sum them."""
    value = sum(ti.xcom_pull(task_ids=parts))
    if record:
        RESULT["value"] = value
    return value


def tf_step(value: int) -> int:
    """The TaskFlow version of ``step``: the value arrives as an argument."""
    return value + 1


def expected(shape: str, n: int) -> int:
    """What the recorded/last XCom value must be after a run of ``shape`` with N."""
    return {"chain": n, "fan": 2 * n, "plain": n, "taskflow": n}[shape]


def task_count(shape: str, n: int) -> int:
    """Tasks in the DAG: a fan has a root and a join around its N middle tasks."""
    return n + 2 if shape == "fan" else n


# --------------------------------------------------------------------------
# The DAGs
# --------------------------------------------------------------------------


def load_api(framework: str) -> SimpleNamespace:
    """DAG, PythonOperator, chain and task of ``framework`` (importing it)."""
    if framework == "orkest":
        from orkest import DAG, flow, task
        from orkest.dag import chain
        from orkest.operators import PythonOperator

        return SimpleNamespace(DAG=DAG, PythonOperator=PythonOperator, chain=chain,
                               task=task, flow=flow)
    if framework == "airflow":
        from airflow.providers.standard.operators.python import PythonOperator
        from airflow.sdk import DAG, chain, task

        return SimpleNamespace(DAG=DAG, PythonOperator=PythonOperator, chain=chain,
                               task=task, flow=None)
    raise ValueError(framework)


def build_chain(api: SimpleNamespace, dag_id: str, n: int) -> Any:
    """N PythonOperators in a chain; each pulls its predecessor's value over XCom."""
    with api.DAG(dag_id, schedule=None) as dag:
        ops = [
            api.PythonOperator(
                task_id=f"t{i}",
                python_callable=step,
                op_kwargs={"prev": f"t{i - 1}" if i else None, "record": i == n - 1},
            )
            for i in range(n)
        ]
        api.chain(*ops)
    return dag


def build_fan(api: SimpleNamespace, dag_id: str, n: int) -> Any:
    """One root, N independent middle tasks that pull the root's value, one join."""
    with api.DAG(dag_id, schedule=None) as dag:
        root = api.PythonOperator(task_id="root", python_callable=step)
        middle = [
            api.PythonOperator(task_id=f"m{i}", python_callable=step, op_kwargs={"prev": "root"})
            for i in range(n)
        ]
        end = api.PythonOperator(
            task_id="join",
            python_callable=join,
            op_kwargs={"parts": [op.task_id for op in middle], "record": True},
        )
        root >> middle
        middle >> end
    return dag


def build_taskflow(api: SimpleNamespace, dag_id: str, n: int, decorated: Any = None) -> Any:
    """N calls of one ``@task`` in a chain, each passing its result to the next."""
    decorated = decorated or api.task(tf_step)
    with api.DAG(dag_id, schedule=None) as dag:
        value: Any = 0
        for _ in range(n):
            value = decorated(value)
    return dag


BUILDERS = {"chain": build_chain, "fan": build_fan, "taskflow": build_taskflow}


def build(framework: str, shape: str, dag_id: str, n: int) -> Any:
    """Used by the generated Airflow DAG files."""
    return BUILDERS[shape](load_api(framework), dag_id, n)


# --------------------------------------------------------------------------
# One timed run (orkest's side, and Airflow's definition time)
# --------------------------------------------------------------------------


def _time_define(api: SimpleNamespace, shape: str, n: int, warmup: int) -> dict[str, Any]:
    builder = BUILDERS[shape]
    extra: dict[str, Any] = {}
    if shape == "taskflow":
        # made once, as a module-level ``@task`` in a DAG file would be
        extra["decorated"] = api.task(tf_step)
    builder(api, "bench_warmup", warmup, **extra)
    start = time.perf_counter()
    dag = builder(api, "bench_define", n, **extra)
    elapsed = time.perf_counter() - start
    if len(dag.task_dict) != n:
        raise RuntimeError(f"defined {len(dag.task_dict)} tasks, expected {n}")
    return {"outer_s": elapsed}


def _time_dag_test(api: SimpleNamespace, shape: str, n: int, warmup: int) -> dict[str, Any]:
    builder = BUILDERS[shape]
    small = builder(api, f"bench_{shape}_warmup", warmup)
    state = small.test()
    if not state.is_completed():
        raise RuntimeError(f"warm-up run failed: {state!r}")
    start = time.perf_counter()
    dag = builder(api, f"bench_{shape}", n)
    define_s = time.perf_counter() - start
    RESULT.clear()
    # orkest: a plain @task chain of as many tasks runs right before and after, in this
    # process, so the DAG-vs-plain ratio compares like with like on a machine whose speed
    # drifts (shared cores): see bench/README.md.
    plain_before = _time_plain(api, task_count(shape, n), warmup) if api.flow else None
    start = time.perf_counter()
    state = dag.test()
    elapsed = time.perf_counter() - start
    plain_after = _time_plain(api, task_count(shape, n), warmup) if api.flow else None
    if not state.is_completed():
        raise RuntimeError(f"DAG run failed: {state!r}")
    if RESULT.get("value") != expected(shape, n):
        raise RuntimeError(f"wrong result {RESULT.get('value')}, expected {expected(shape, n)}")
    out = {"outer_s": elapsed, "define_s": define_s, "tasks": task_count(shape, n)}
    if plain_before and plain_after:
        out["paired_plain_s"] = (plain_before["outer_s"] + plain_after["outer_s"]) / 2
    return out


def _time_plain(api: SimpleNamespace, n: int, warmup: int) -> dict[str, Any]:
    """The same chain as plain orkest: a flow calling a ``@task`` N times in sequence."""
    plain_step = api.task(tf_step)

    def plain_chain(n: int) -> int:
        value = 0
        for _ in range(n):
            value = plain_step(value)
        return value

    bench_flow = api.flow(plain_chain)
    bench_flow(warmup)
    start = time.perf_counter()
    value = bench_flow(n)
    elapsed = time.perf_counter() - start
    if value != n:
        raise RuntimeError(f"wrong result {value}, expected {n}")
    return {"outer_s": elapsed, "tasks": n}


def run(spec: dict[str, Any]) -> dict[str, Any]:
    framework, workload = spec["framework"], spec["workload"]
    n, warmup = spec["n"], spec["warmup"]
    api = load_api(framework)  # imports are not timed
    if workload == "define":
        out = _time_define(api, "chain", n, warmup)
    elif workload == "define_taskflow":
        out = _time_define(api, "taskflow", n, warmup)
    elif workload in ("chain", "fan"):
        out = _time_dag_test(api, workload, n, warmup)
    elif workload == "plain":
        out = _time_plain(api, n, warmup)
    else:
        raise ValueError(workload)
    return {"n": n, "warmup": warmup, **out}


def main(argv: list[str]) -> int:
    spec = json.loads(argv[1])
    result = run(spec)
    with open(spec["result_path"], "w", encoding="utf-8") as f:
        json.dump(result, f)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
