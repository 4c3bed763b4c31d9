"""Every trigger rule against every mix of upstream outcomes, decided and then really run."""

from __future__ import annotations

import pytest

from orkest import DAG, TriggerRule
from orkest.dag.trigger_rules import Decision, UpstreamCounts, decide
from orkest.errors import TaskSkipped
from orkest.operators import EmptyOperator, PythonOperator
from orkest.runners import SequentialRunner
from orkest.store import open_store

R, S, U = "run", "skip", "upstream_failed"
RULES = list(TriggerRule)
# Two upstream tasks ended: s = succeeded, f = failed, k = skipped. Written out by hand
# from Airflow's documentation, not computed, so a wrong rule cannot agree with itself.
EXPECTED: dict[str, dict[TriggerRule, str]] = {
    "ss": dict(zip(RULES, [R, S, R, S, R, S, R, R, R, R, R], strict=True)),
    "sf": dict(zip(RULES, [U, S, R, S, R, R, R, U, U, R, R], strict=True)),
    "sk": dict(zip(RULES, [S, S, R, S, R, S, R, R, R, S, R], strict=True)),
    "ff": dict(zip(RULES, [U, R, R, S, U, R, R, U, U, R, R], strict=True)),
    "fk": dict(zip(RULES, [U, S, R, S, U, R, R, U, U, S, R], strict=True)),
    "kk": dict(zip(RULES, [S, S, R, R, S, S, S, R, S, S, R], strict=True)),
}


def test_rule_order_matches_the_table() -> None:
    assert [r.value for r in RULES] == [
        "all_success", "all_failed", "all_done", "all_skipped", "one_success", "one_failed",
        "one_done", "none_failed", "none_failed_min_one_success", "none_skipped", "always"]


@pytest.mark.parametrize("mix", list(EXPECTED))
def test_decide_matrix(mix: str) -> None:
    counts = UpstreamCounts(2, success=mix.count("s"), failed=mix.count("f"),
                            skipped=mix.count("k"))
    got = {rule: decide(rule, counts).value for rule in RULES}  # type: ignore[union-attr]
    assert got == EXPECTED[mix]


def test_rules_wait_for_unfinished_upstream_except_one_rules_and_always() -> None:
    one_done = UpstreamCounts(2, success=1)
    waiting = {rule for rule in RULES if decide(rule, one_done) is None}
    assert waiting == set(RULES) - {TriggerRule.ONE_SUCCESS, TriggerRule.ONE_DONE,
                                    TriggerRule.ALWAYS}
    one_failed = UpstreamCounts(3, failed=1)
    assert decide(TriggerRule.ONE_FAILED, one_failed) is Decision.RUN
    assert decide(TriggerRule.ALL_SUCCESS, one_failed) is None
    assert decide(TriggerRule.ALWAYS, UpstreamCounts(3)) is Decision.RUN


def test_no_upstream_runs_under_every_rule() -> None:
    assert {decide(rule, UpstreamCounts(0)) for rule in RULES} == {Decision.RUN}


def test_parse_accepts_names_in_any_case_and_rejects_others() -> None:
    assert TriggerRule.parse("ALL_DONE") is TriggerRule.ALL_DONE
    assert TriggerRule.parse("none_failed") is TriggerRule.NONE_FAILED
    with pytest.raises(ValueError, match="unknown trigger_rule 'all_good'.*all_success"):
        TriggerRule.parse("all_good")


def _outcome(kind: str):
    def run() -> str:
        if kind == "f":
            raise RuntimeError("planned failure")
        if kind == "k":
            raise TaskSkipped("planned skip")
        return "ok"
    return run


STATE_OF = {R: ("COMPLETED", "Completed"), S: ("SKIPPED", "Skipped"),
            U: ("SKIPPED", "UpstreamFailed")}


@pytest.mark.parametrize("mix", list(EXPECTED))
def test_matrix_in_real_dag_runs(mix: str) -> None:
    with DAG(f"matrix-{mix}", task_runner=SequentialRunner()) as dag:
        ups = [PythonOperator(task_id=f"up{i}", python_callable=_outcome(kind))
               for i, kind in enumerate(mix)]
        for rule in RULES:
            ups >> EmptyOperator(task_id=rule.value, trigger_rule=rule)
    state = dag.test()
    assert state.is_failed() == ("f" in mix)
    flow_run = open_store().list_flow_runs()[0]
    runs = {t.name: t for t in open_store().list_task_runs(flow_run_id=flow_run.id)}
    got = {rule: (runs[rule.value].state_type.value, runs[rule.value].state_name)
           for rule in RULES}
    assert got == {rule: STATE_OF[outcome] for rule, outcome in EXPECTED[mix].items()}


def test_upstream_failed_counts_as_failed_downstream() -> None:
    with DAG("propagation", task_runner=SequentialRunner()) as dag:
        bad = PythonOperator(task_id="bad", python_callable=_outcome("f"))
        middle = EmptyOperator(task_id="middle")  # UpstreamFailed
        on_failure = EmptyOperator(task_id="on_failure", trigger_rule=TriggerRule.ONE_FAILED)
        plain = EmptyOperator(task_id="plain")  # UpstreamFailed again
        bad >> middle >> [on_failure, plain]
    dag.test()
    runs = {t.name: t for t in open_store().list_task_runs(
        flow_run_id=open_store().list_flow_runs()[0].id)}
    assert runs["middle"].state_name == "UpstreamFailed"
    assert runs["plain"].state_name == "UpstreamFailed"
    assert runs["on_failure"].state_type.value == "COMPLETED"
