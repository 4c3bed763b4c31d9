"""Building a DAG: edges, default_args, TaskFlow nodes, and every shape error at its line."""

from __future__ import annotations

from datetime import timedelta

import pytest

from orkest import DAG, TriggerRule, task
from orkest.dag import chain
from orkest.errors import CycleError, DagDefinitionError
from orkest.operators import BashOperator, EmptyOperator, PythonOperator


def test_shift_operators_and_lists_build_edges() -> None:
    with DAG("shape") as dag:
        t1, t2, t3, t4 = (EmptyOperator(task_id=f"t{i}") for i in range(1, 5))
        t1 >> [t2, t3]
        t4 << [t2, t3]
    assert t1.downstream_task_ids == {"t2", "t3"}
    assert t4.upstream_task_ids == {"t2", "t3"}
    assert [e for e in dag.describe_graph()["edges"]] == [
        ["t1", "t2"], ["t1", "t3"], ["t2", "t4"], ["t3", "t4"]]
    order = dag.topological_order()
    assert order.index("t1") < order.index("t2") < order.index("t4")


def test_list_on_the_left_of_shift() -> None:
    with DAG("left-list"):
        a, b, c = (EmptyOperator(task_id=x) for x in "abc")
        [a, b] >> c
    assert c.upstream_task_ids == {"a", "b"}


def test_chain_with_operators_lists_and_ids() -> None:
    with DAG("chained") as dag:
        ops = [EmptyOperator(task_id=f"s{i}") for i in range(6)]
        chain(ops[0], [ops[1], ops[2]], [ops[3], ops[4]], "s5")
    assert dag.task_dict["s0"].downstream_task_ids == {"s1", "s2"}
    assert dag.task_dict["s1"].downstream_task_ids == {"s3"}  # lists side by side pair up
    assert dag.task_dict["s2"].downstream_task_ids == {"s4"}
    assert dag.task_dict["s5"].upstream_task_ids == {"s3", "s4"}


def test_chain_rejects_unknown_ids_and_uneven_lists() -> None:
    with DAG("bad-chain"):
        a = EmptyOperator(task_id="a")
        with pytest.raises(DagDefinitionError, match="has no task 'nope'.*tasks: a"):
            chain(a, "nope")
        b, c, d = (EmptyOperator(task_id=x) for x in "bcd")
        with pytest.raises(DagDefinitionError, match="same length"):
            chain([a, b], [c])
        del d


def test_cycle_is_refused_where_it_is_made_and_named() -> None:
    with DAG("cyclic"):
        a, b, c = (EmptyOperator(task_id=x) for x in "abc")
        a >> b >> c
        with pytest.raises(CycleError, match="c >> a >> b >> c"):
            c >> a
        with pytest.raises(CycleError, match="itself"):
            a >> a
    assert a.upstream_task_ids == set()


def test_duplicate_task_id_and_task_in_two_dags() -> None:
    with DAG("first"):
        op = EmptyOperator(task_id="x")
        with pytest.raises(DagDefinitionError, match="already has a task with task_id 'x'"):
            EmptyOperator(task_id="x")
    second = DAG("second")
    with pytest.raises(DagDefinitionError, match="already belongs to DAG 'first'"):
        second.add_task(op)
    with DAG("third"):
        other = EmptyOperator(task_id="y")
    with pytest.raises(DagDefinitionError, match="different DAGs"):
        op >> other


def test_invalid_ids_and_arguments_are_named() -> None:
    with pytest.raises(DagDefinitionError, match="Invalid dag_id 'a b'"):
        DAG("a b")
    with DAG("args"):
        with pytest.raises(DagDefinitionError, match="Invalid task_id 'has space'"):
            EmptyOperator(task_id="has space")
        with pytest.raises(DagDefinitionError, match="Task 't'.*unknown trigger_rule 'sometimes'"):
            EmptyOperator(task_id="t", trigger_rule="sometimes")
        with pytest.raises(TypeError, match="unexpected arguments: colour"):
            EmptyOperator(task_id="t2", colour="red")
        with pytest.raises(TypeError, match="python_callable must be callable"):
            PythonOperator(task_id="t3", python_callable="not a function")
        with pytest.raises(ValueError, match="bash_command must be a non-empty string"):
            BashOperator(task_id="t4", bash_command="  ")
    with pytest.raises(DagDefinitionError, match="schedule must be"):
        DAG("sched", schedule=42)
    with pytest.raises(DagDefinitionError, match="neither is in a DAG"):
        EmptyOperator(task_id="lonely") >> EmptyOperator(task_id="alone")


def test_default_args_fill_what_operators_leave_out() -> None:
    defaults = {"retries": 2, "retry_delay": timedelta(seconds=5), "owner": "data",
                "trigger_rule": "all_done", "email_on_failure": True}  # last: ignored
    with DAG("defaults", default_args=defaults):
        plain = EmptyOperator(task_id="plain")
        own = PythonOperator(task_id="own", python_callable=print, retries=0)
        bash = BashOperator(task_id="bash", bash_command="true")
    assert (plain.retries, plain.retry_delay, plain.owner) == (2, 5.0, "data")
    assert plain.trigger_rule is TriggerRule.ALL_DONE
    assert own.retries == 0 and own.retry_delay == 5.0
    assert bash.retries == 2


def test_operator_with_dag_argument_outside_with() -> None:
    dag = DAG("explicit")
    a = EmptyOperator(task_id="a", dag=dag)
    b = EmptyOperator(task_id="b", dag=dag)
    a.set_downstream(b)
    assert dag.task_ids == ["a", "b"] and b.upstream_list == [a]


def test_taskflow_calls_become_nodes_with_data_edges() -> None:
    @task(retries=3, retry_delay_seconds=2)
    def extract() -> list[int]:
        return [1, 2]

    @task
    def total(values: list[int], extra: int) -> int:
        return sum(values) + extra

    with DAG("taskflow") as dag:
        rows = extract()
        again = extract()
        result = total(rows, extra=1)
        done = EmptyOperator(task_id="done")
        result >> done
    assert set(dag.task_ids) == {"extract", "extract__1", "total", "done"}
    assert dag.task_dict["total"].upstream_task_ids == {"extract"}
    assert dag.task_dict["extract"].retries == 3 and dag.task_dict["extract"].retry_delay == 2
    assert done.upstream_task_ids == {"total"}
    assert again.operator.task_id == "extract__1"


def test_graph_description_has_kinds_and_rules() -> None:
    with DAG("described") as dag:
        EmptyOperator(task_id="a") >> BashOperator(task_id="b", bash_command="true",
                                                   trigger_rule=TriggerRule.ALL_DONE)
    graph = dag.describe_graph()
    assert graph["dag_id"] == "described"
    assert graph["nodes"] == [
        {"id": "a", "kind": "EmptyOperator", "trigger_rule": "all_success"},
        {"id": "b", "kind": "BashOperator", "trigger_rule": "all_done"}]


def test_dag_params_become_typed_flow_parameters() -> None:
    dag = DAG("params", params={"dataset": "sales", "n": 3, "ratio": 0.5})
    flow = dag.flow
    assert flow.name == "params"
    checked = flow.parameters.validate(flow.parameters.bind((), {"n": "7", "ratio": 2}))
    assert checked == {"dataset": "sales", "n": 7, "ratio": 2}
    from orkest.errors import ParameterValidationError

    with pytest.raises(ParameterValidationError, match="n"):
        flow.parameters.validate(flow.parameters.bind((), {"n": "many"}))


def test_schedule_is_parsed_when_the_dag_is_defined() -> None:
    from orkest.errors import InvalidSchedule
    from orkest.schedules import Cron, Interval

    assert DAG("cron", schedule="0 6 * * *").timetable == Cron("0 6 * * *")
    assert DAG("daily", schedule="@daily").timetable == Cron("0 0 * * *")
    assert DAG("every", schedule=timedelta(hours=1)).timetable == Interval(3600)
    assert DAG("manual").timetable is None and DAG("once", schedule="@once").timetable is None
    with pytest.raises(InvalidSchedule, match="DAG 'bad'.*minute.*61"):
        DAG("bad", schedule="61 * * * *")
