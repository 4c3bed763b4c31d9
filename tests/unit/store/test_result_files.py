"""FileResultFiles: keys with '/', atomic replacement, clear errors."""

from __future__ import annotations

import pytest

from orkest.errors import StoreError
from orkest.store.results import FileResultFiles


def test_round_trip_with_nested_keys(tmp_path):
    files = FileResultFiles(tmp_path / "results")
    files.put("flow-1/task-a/0.pkl", b"\x00\x01data")
    files.put("top", b"")
    assert files.get("flow-1/task-a/0.pkl") == b"\x00\x01data"
    assert files.get("top") == b""
    assert (tmp_path / "results" / "flow-1" / "task-a" / "0.pkl").is_file()


def test_put_replaces_whole_and_leaves_no_temp_files(tmp_path):
    files = FileResultFiles(tmp_path, fsync=True)
    files.put("a/k", b"old" * 1000)
    files.put("a/k", b"new")
    assert files.get("a/k") == b"new"
    assert [p.name for p in (tmp_path / "a").iterdir()] == ["k"]


def test_missing_key_names_key_and_path(tmp_path):
    files = FileResultFiles(tmp_path)
    with pytest.raises(StoreError) as info:
        files.get("flow-1/missing.pkl")
    assert "'flow-1/missing.pkl'" in str(info.value)
    assert str(tmp_path / "flow-1" / "missing.pkl") in str(info.value)


@pytest.mark.parametrize("key", ["", "/etc/passwd", "../outside", "a/../../b", "a//b", "a\\b"])
def test_keys_must_stay_below_the_root(tmp_path, key):
    with pytest.raises(StoreError, match="Invalid result key"):
        FileResultFiles(tmp_path).put(key, b"x")
