"""The ``eis-pipeline`` command line (the only package that imports click)."""
