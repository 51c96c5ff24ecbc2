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


def test_files_get_the_usual_permissions_not_0600(tmp_path: Path) -> None:
    import os

    old = os.umask(0o022)
    try:
        with replacing(tmp_path / "shared.h5") as tmp:
            tmp.write_text("x")
    finally:
        os.umask(old)
    assert (tmp_path / "shared.h5").stat().st_mode & 0o777 == 0o644


def test_temp_name_of_a_long_destination_fits_in_a_file_name(tmp_path: Path) -> None:
    path = tmp_path / ("x" * 240 + ".png")
    with replacing(path) as tmp:
        assert len(tmp.name) < 255
        tmp.write_text("x")
    assert path.read_text() == "x"


def test_stale_temps_of_dead_writers_are_swept(tmp_path: Path) -> None:
    import os
    import subprocess
    import sys

    from eis_pipeline.io.atomic import is_temp, remove_stale_temps, temp_path

    # a writer that died mid-write: its temporary file, named with its (now gone) pid
    (tmp_path / "sub").mkdir()
    code = ("import sys; from pathlib import Path; from eis_pipeline.io.atomic import temp_path;"
            "print(temp_path(Path(sys.argv[1])))")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    dead = Path(subprocess.run([sys.executable, "-c", code, str(tmp_path / "sub" / "a.png")],
                               capture_output=True, text=True, check=True, env=env
                               ).stdout.strip())
    assert dead.exists() and is_temp(dead)
    live = temp_path(tmp_path / "b.png")              # this process: still writing
    user = tmp_path / ".notes.123.tmp"                # not ours
    user.write_text("keep")
    assert remove_stale_temps(tmp_path) == 0          # not recursive: sub/ untouched
    assert remove_stale_temps(tmp_path, recursive=True) == 1
    assert not dead.exists() and live.exists() and user.exists()
