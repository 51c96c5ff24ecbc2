"""Inputs are sacred: refuse an output path that would replace an input file.

Checked before anything is read or written, for every file a run writes (results HDF5, CSV
summary, plots folder, report, export): an output that resolves (through symbolic links,
``..`` and hard links) to an input file or to the config, a plots folder that holds input
files, or an existing file the tool did not write, is refused with an
:class:`~eis_pipeline.exceptions.OutputError` saying which input it would have replaced.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from eis_pipeline.exceptions import OutputError

__all__ = ["HDF5_SIGNATURE", "check_outputs", "is_hdf5"]

#: the first bytes of every HDF5 file (at offset 0 for files h5py writes)
HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"


def is_hdf5(path: Path) -> bool:
    """Whether the file at ``path`` starts with the HDF5 signature."""
    try:
        with open(path, "rb") as f:
            return f.read(len(HDF5_SIGNATURE)) == HDF5_SIGNATURE
    except OSError:
        return False


def _identity(path: Path) -> tuple[int, int] | None:
    try:
        st = path.stat()
    except OSError:
        return None
    return st.st_dev, st.st_ino


def check_outputs(inputs: Iterable[Path], *, files: Iterable[Path] = (),
                  hdf5: Iterable[Path] = (), folders: Iterable[Path] = ()) -> None:
    """Refuse outputs that would replace an input.

    Parameters
    ----------
    inputs : paths
        Every file the run reads (data files and the config).
    files : paths
        Files to be written (or replaced) whatever their current content.
    hdf5 : paths
        Files to be written that, when they exist already, must be HDF5 (a previous results
        file): anything else there is someone's data.
    folders : paths
        Folders to be written into (plots): they may not hold an input file.

    Raises
    ------
    OutputError
        Naming the output, the input it would replace, and what to do instead.
    """
    by_path: dict[Path, Path] = {}
    by_id: dict[tuple[int, int], Path] = {}
    for path in inputs:
        real = Path(os.path.realpath(path))
        by_path[real] = Path(path)
        ident = _identity(real)
        if ident is not None:
            by_id[ident] = Path(path)
    hdf5 = list(hdf5)
    for out in [*files, *hdf5]:
        real = Path(os.path.realpath(out))
        replaced = by_path.get(real) or by_id.get(_identity(real) or (-1, -1))
        if replaced is not None:
            raise OutputError(f"this output is the input file {replaced}; writing it would "
                              "destroy the raw data. Choose another output (-o/--output or "
                              "`output` in the config)", out)
        if real.is_dir():
            raise OutputError("this output is a folder; give a file name such as "
                              f"{Path(out) / 'results.h5'}", out)
        if out in hdf5 and real.exists() and not is_hdf5(real):
            raise OutputError("a file that is not a results (HDF5) file is already there; "
                              "choose another output, or delete the file if it is not needed",
                              out)
    for folder in folders:
        real = Path(os.path.realpath(folder))
        if real.exists() and not real.is_dir():
            raise OutputError("the output folder's name is taken by a file; choose another "
                              "output name", folder)
        inside = sorted(p for r, p in by_path.items() if r.is_relative_to(real))
        if inside:
            raise OutputError(f"this output folder holds the input file {inside[0]}; plots "
                              "written there could replace raw data. Choose another output "
                              "name", folder)
