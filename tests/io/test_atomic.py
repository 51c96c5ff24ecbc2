"""eis_pipeline.io.atomic.replacing: all or nothing, no temporary file left behind."""

from __future__ import annotations

from pathlib import Path

import pytest

from eis_pipeline.io.atomic import replacing


@pytest.mark.parametrize("durable", [False, True])
def test_replaces_on_success(tmp_path: Path, durable: bool) -> None:
    path = tmp_path / "new" / "out.csv"          # the folder is created
    with replacing(path, durable=durable) as tmp:
        assert tmp.parent == path.parent and tmp != path
        tmp.write_text("a,b\n")
    assert path.read_text() == "a,b\n"
    assert sorted(p.name for p in path.parent.iterdir()) == ["out.csv"]


def test_failure_keeps_the_previous_file(tmp_path: Path) -> None:
    path = tmp_path / "out.csv"
    path.write_text("old\n")
    with pytest.raises(RuntimeError), replacing(path) as tmp:
        tmp.write_text("half")
        raise RuntimeError("disk full")
    assert path.read_text() == "old\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.csv"]
