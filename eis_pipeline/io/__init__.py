"""Everything that touches files: importers, the xarray backend, HDF5 results."""
