"""The one atomic writer and the removal of what a killed writer leaves behind."""

from __future__ import annotations

import os
import time

import pytest

from snninit import _dataset, _io


def test_one_atomic_writer():
    assert _dataset.atomic_write is _io.atomic_write


def test_atomic_write_names_its_temp_file_by_the_pattern(tmp_path):
    seen = []

    def write(tmp):
        seen.append(os.path.basename(tmp))
        with open(tmp, "w") as fh:
            fh.write("x")

    _io.atomic_write(tmp_path / "a.nc", write)
    assert (tmp_path / "a.nc").read_text() == "x"
    assert seen[0].startswith(".a.nc.") and _io.is_temp_name(seen[0])
    assert [p.name for p in tmp_path.iterdir()] == ["a.nc"]

    def fail(tmp):
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        _io.atomic_write(tmp_path / "b.nc", fail)
    assert [p.name for p in tmp_path.iterdir()] == ["a.nc"]  # removed on failure


@pytest.mark.parametrize(
    ("name", "ours"),
    [
        (".report.md.k2j_9x0a.tmp", True),
        (".snninit-write-test-ab12cd34", True),
        (".report.md.tmp", False),  # no random part
        ("report.md.k2j_9x0a.tmp", False),  # not hidden
        (".report.md.K2J_9X0A.tmp", False),  # mkstemp's characters are lower case
        (".notes.tmp", False),
    ],
)
def test_temp_name_pattern(name, ours):
    assert _io.is_temp_name(name) is ours


def test_remove_stale_temps_age_pattern_recursion(tmp_path):
    sub = tmp_path / "sub"
    sub.mkdir()
    old = time.time() - 3600
    files = {}
    for key, folder, name, mtime in [
        ("stale", tmp_path, ".a.nc.abcdefgh.tmp", old),
        ("stale_sub", sub, ".b.png.abcdefgh.tmp", old),
        ("fresh", tmp_path, ".c.nc.abcdefgh.tmp", None),
        ("foreign", tmp_path, ".mine.tmp", old),
        ("target", tmp_path, "a.nc", old),
    ]:
        path = folder / name
        path.write_text("x")
        if mtime is not None:
            os.utime(path, (mtime, mtime))
        files[key] = path
    started = time.time()
    assert _io.remove_stale_temps([tmp_path, tmp_path / "missing"], started) == [files["stale"]]
    assert files["stale_sub"].exists()  # not recursive
    assert _io.remove_stale_temps([tmp_path], started, recursive=True) == [files["stale_sub"]]
    for key in ("fresh", "foreign", "target"):
        assert files[key].exists(), key
    # a file changed within the grace period before the run's start is a live writer's
    assert _io.remove_stale_temps([tmp_path], time.time() + 30) == []
    assert _io.remove_stale_temps([tmp_path], time.time() + 30, grace=0) == [files["fresh"]]
