"""Mutation fuzzer for the importers: ``python -m tests.fuzz`` (``make fuzz``)."""
