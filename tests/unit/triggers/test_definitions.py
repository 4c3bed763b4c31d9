"""Trigger definitions: fields checked when made, stored as dicts, events they answer."""

from __future__ import annotations

from pathlib import Path

import pytest

from orkest.errors import DeploymentError, InvalidTrigger
from orkest.triggers import (
    DB_EVENT,
    FILE_EVENT,
    DbChange,
    Event,
    FileArrival,
    FlowRunFinished,
    Trigger,
    Webhook,
    trigger_from,
)


def every_kind(tmp_path: Path) -> list[Trigger]:
    return [
        FileArrival(tmp_path, pattern="*.csv", recursive=True,
                    parameters={"path": "{{ event.path }}"}),
        Webhook("orders-in", parameters={"order": "{{ event.body.id }}"}),
        DbChange("sqlite:///x.db", "select max(id) from orders", poll_seconds=0.5),
        DbChange("postgresql+psycopg://u@h/db", "select 1", channel="orders_changed"),
        FlowRunFinished("extract", states=("failed", "CRASHED")),
        Event("orders/created", match={"region": "eu"}, parameters={"n": 1}),
    ]


def test_every_kind_round_trips_through_its_dict(tmp_path: Path) -> None:
    for trigger in every_kind(tmp_path):
        data = trigger.to_dict()
        assert data["type"] == trigger.type_name
        again = trigger_from(data)
        assert type(again) is type(trigger) and again == trigger
        assert again.to_dict() == data
        assert trigger_from(trigger) is trigger
        assert trigger.describe()
        assert type(trigger).__name__ in repr(trigger)


def test_file_arrival_keeps_an_absolute_path_and_matches_by_pattern(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    flat = FileArrival(tmp_path, pattern="*.csv")
    deep = FileArrival(str(tmp_path), pattern="*.csv", recursive=True)
    assert flat.path == str(tmp_path.resolve())
    top, below = str(tmp_path / "a.csv"), str(tmp_path / "sub" / "b.csv")
    assert flat.watches(top) and not flat.watches(below)
    assert deep.watches(top) and deep.watches(below)
    assert not flat.watches(str(tmp_path / "a.txt"))
    assert not deep.watches(str(tmp_path) + "-other/a.csv")
    assert flat.matches(FILE_EVENT, {"path": top})
    assert not flat.matches("file/other", {"path": top})
    assert not flat.matches(FILE_EVENT, "not a mapping")


def test_webhook_event_and_flow_run_matching() -> None:
    assert Webhook("hook").matches("webhook/hook", None)
    assert not Webhook("hook").matches("webhook/hook2", None)
    finished = FlowRunFinished("extract", states=["FAILED", "CRASHED"])
    assert finished.states == ("FAILED", "CRASHED")
    assert finished.matches("flow-run/extract/CRASHED", {})
    assert not finished.matches("flow-run/extract/COMPLETED", {})
    assert not finished.matches("flow-run/other/FAILED", {})
    assert FlowRunFinished("extract").states == ("COMPLETED",)


def test_event_match_compares_payload_keys_and_dotted_paths() -> None:
    trigger = Event("orders/created", match={"region": "eu", "order.kind": "big"})
    assert trigger.matches("orders/created", {"region": "eu", "order": {"kind": "big"}})
    assert not trigger.matches("orders/created", {"region": "us", "order": {"kind": "big"}})
    assert not trigger.matches("orders/created", {"region": "eu"})
    assert not trigger.matches("orders/created", None)
    assert not trigger.matches("orders/deleted", {"region": "eu", "order": {"kind": "big"}})
    assert Event("ping").matches("ping", None)


def test_db_change_watch_key_names_url_and_query() -> None:
    one = DbChange("sqlite:///a.db", "select 1", poll_seconds=5)
    same = DbChange("sqlite:///a.db", "select 1", poll_seconds=60)
    other = DbChange("sqlite:///a.db", "select 2")
    assert one.watch_key == same.watch_key != other.watch_key
    assert one.matches(DB_EVENT, {"watch": one.watch_key})
    assert not one.matches(DB_EVENT, {"watch": other.watch_key})


def test_a_watch_path_that_does_not_exist_is_refused(tmp_path: Path) -> None:
    missing = tmp_path / "incoming"
    with pytest.raises(InvalidTrigger, match="watch path .*incoming.* does not exist"):
        FileArrival(missing)
    file = tmp_path / "data.csv"
    file.write_text("x")
    with pytest.raises(InvalidTrigger, match="is a file, not a directory.*'data.csv'"):
        FileArrival(file)


@pytest.mark.parametrize(("make", "field"), [
    (lambda p: FileArrival(p, pattern=""), "'pattern'"),
    (lambda p: FileArrival(p, recursive="yes"), "'recursive'"),
    (lambda p: FileArrival(p, parameters=["x"]), "'parameters'"),
    (lambda p: FileArrival(p, parameters={1: "x"}), "'parameters'"),
    (lambda p: Webhook("has space"), "'name'"),
    (lambda p: Webhook("a/b"), "'name'"),
    (lambda p: Webhook(""), "'name'"),
    (lambda p: DbChange("not a url", "select 1"), "'url'"),
    (lambda p: DbChange("sqlite:///a.db", "  "), "'query'"),
    (lambda p: DbChange("sqlite:///a.db", "select 1", poll_seconds=0), "'poll_seconds'"),
    (lambda p: DbChange("sqlite:///a.db", "select 1", poll_seconds=-1), "'poll_seconds'"),
    (lambda p: DbChange("sqlite:///a.db", "select 1", poll_seconds=True), "'poll_seconds'"),
    (lambda p: DbChange("sqlite:///a.db", "select 1", poll_seconds=float("nan")),
     "'poll_seconds'"),
    (lambda p: DbChange("sqlite:///a.db", "select 1", channel="x"), "'channel'"),
    (lambda p: DbChange("postgresql://h/db", "select 1", channel="bad-name;"), "'channel'"),
    (lambda p: FlowRunFinished("extract", states=("DONE",)), "'states'"),
    (lambda p: FlowRunFinished("extract", states=("RUNNING",)), "'states'"),
    (lambda p: FlowRunFinished("extract", states=()), "'states'"),
    (lambda p: FlowRunFinished("", states=("COMPLETED",)), "'flow'"),
    (lambda p: Event(""), "'name'"),
    (lambda p: Event("x", match=["a"]), "'match'"),
])
def test_bad_fields_are_named(tmp_path: Path, make, field: str) -> None:  # noqa: ANN001
    with pytest.raises(InvalidTrigger, match=field) as caught:
        make(tmp_path)
    assert isinstance(caught.value, ValueError) and isinstance(caught.value, DeploymentError)


def test_flow_run_finished_states_name_the_choices() -> None:
    with pytest.raises(InvalidTrigger, match="'DONE'.*COMPLETED"):
        FlowRunFinished("extract", states=["DONE"])


@pytest.mark.parametrize(("data", "message"), [
    ({"name": "x"}, "field 'type' is None"),
    ({"type": "cron", "name": "x"}, "field 'type' is 'cron'; choose from db_change"),
    ({"type": "webhook", "name": "x", "colour": "red"}, "has no field 'colour'"),
    ({"type": "webhook"}, "Trigger 'webhook'.*name"),
    ("webhook", "Not a trigger"),
])
def test_trigger_from_bad_dicts(data: object, message: str) -> None:
    with pytest.raises(InvalidTrigger, match=message):
        trigger_from(data)  # type: ignore[arg-type]


def test_triggers_with_the_same_fields_are_equal_and_hash_alike(tmp_path: Path) -> None:
    assert Webhook("a") == Webhook("a") and hash(Webhook("a")) == hash(Webhook("a"))
    assert Webhook("a") != Webhook("b")
    assert Webhook("a", parameters={"x": 1}) != Webhook("a")
    assert Event("a", match={"k": [1]}) == Event("a", match={"k": [1]})
    assert len({Event("a", match={"k": [1]}), Event("a", match={"k": [1]})}) == 1
