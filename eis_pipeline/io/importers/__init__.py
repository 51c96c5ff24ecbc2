"""Built-in importers, one module per vendor format.

Each module defines ``IMPORTERS``: a sequence of :class:`eis_pipeline.io.registry.Importer`.
The registry discovers every module here; nothing else needs editing to add a format.
"""
