"""The campaign results file: one netCDF4-compatible HDF5 file, written once, atomically.

Layout (DESIGN.md section 7)::

    /                         attrs: eis_pipeline_version, created, config (JSON), history
    /<sample>/                attrs: geometry, synthesis metadata
    /<sample>/spectra/<id>    frequency, impedance, impedance_fit, impedance_residual
    /<sample>/fit             (spectrum, param) value, stderr, covariance; status; statistics
    /<sample>/conductivity    (spectrum, component) resistance, conductivity (+ _stderr), ...
    /<sample>/arrhenius       (component) activation_energy, prefactor, sigma_25C (+ _stderr)
    /campaign                 one row per sample: synthesis parameters vs conductivity
    /failures                 files or spectra that could not be processed, with the reason

Encoding, so that plain h5py, netCDF-4 readers and ``xr.open_datatree(path,
engine="h5netcdf")`` all read the file without help:

- each group is a netCDF-4 group: dimensions are HDF5 dimension scales (the coordinate
  variable itself, or netCDF's "not a variable" scale for a dimension without coordinates),
  attached to every variable that uses them; xarray's CF encoding is applied first
  (``coordinates`` attributes, booleans as int8 with ``dtype = "bool"``, ``_FillValue``);
- complex variables use the nc-complex convention (as h5netcdf writes them): an HDF5
  compound ``{r, i}`` committed once at the root as ``_PFNC_DOUBLE_COMPLEX_TYPE``; h5py and
  xarray read them back as complex128 directly;
- strings are variable-length UTF-8; attributes that netCDF cannot hold are converted once:
  mappings and non-numeric lists become JSON strings, booleans 0/1, None is dropped.

Writes go to a temporary file in the destination folder, are flushed to disk (fsync) and
renamed over the destination (``os.replace``, atomic on POSIX and Windows): a crash or a kill
during the write leaves the previous file untouched.

This package is the stable import path; its modules have one job each:

========================  =================================================================
:mod:`.encode`            xarray trees to netCDF-safe attributes and CF-encoded variables,
                          plus the root's provenance (no HDF5)
:mod:`.groups`            encoded groups into an open HDF5 file as netCDF-4 groups
:mod:`.write`             :class:`ResultsWriter` and :func:`write_results` (the two above,
                          atomic through :mod:`eis_pipeline.io.atomic`)
:mod:`.read`              :func:`read_results`
:mod:`.netcdf`            netCDF-4-on-HDF5 names and markers shared by writer and reader
:mod:`.errors`            :class:`ResultsError`
========================  =================================================================
"""

from __future__ import annotations

from eis_pipeline.io.hdf5.errors import ResultsError
from eis_pipeline.io.hdf5.read import read_results
from eis_pipeline.io.hdf5.write import ResultsWriter, write_results

__all__ = ["ResultsError", "ResultsWriter", "read_results", "write_results"]
