"""The netCDF-4-on-HDF5 conventions the writer and the reader share.

How netCDF-4 (and h5netcdf, and xarray through it) lays a group out in HDF5: names, the
marker of a dimension without a coordinate variable, the committed complex types of the
nc-complex convention, the bookkeeping attributes that are not user attributes, and which
dtypes h5py stores as they are.
"""

from __future__ import annotations

from typing import Any

import h5py
import numpy as np

__all__ = ["COMPLEX_TYPES", "INTERNAL_ATTRS", "NOT_A_VARIABLE", "STR_DTYPE", "encode_name",
           "plain_dtype"]

STR_DTYPE = h5py.string_dtype()     # variable-length UTF-8
#: The NAME of a dimension scale that is a dimension, not a variable (followed by its size).
NOT_A_VARIABLE = "This is a netCDF dimension but not a netCDF variable."
#: nc-complex: complex dtypes as HDF5 compounds ``{r, i}`` committed at the root under these.
COMPLEX_TYPES = {np.dtype(np.complex128): "_PFNC_DOUBLE_COMPLEX_TYPE",
                 np.dtype(np.complex64): "_PFNC_FLOAT_COMPLEX_TYPE"}
#: HDF5/netCDF bookkeeping attributes, not user attributes.
INTERNAL_ATTRS = frozenset({"CLASS", "NAME", "DIMENSION_LIST", "REFERENCE_LIST",
                            "_Netcdf4Dimid", "_Netcdf4Coordinates", "_NCProperties",
                            "_nc3_strict"})


def plain_dtype(dtype: np.dtype[Any], kinds: str) -> bool:
    """Whether ``dtype`` is of one of ``kinds`` and not float16 (which h5py converts)."""
    return dtype.kind in kinds and not (dtype.kind == "f" and dtype.itemsize == 2)


def encode_name(name: str) -> bytes:
    """An HDF5 object or attribute name as h5py encodes it (ASCII if it can, else UTF-8)."""
    try:
        return name.encode("ascii")
    except UnicodeEncodeError:
        return name.encode("utf-8")
