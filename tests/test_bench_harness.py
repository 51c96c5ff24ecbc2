"""The benchmark harness keeps the sections it did not re-run."""

from __future__ import annotations

from bench.__main__ import merge_sections


def test_merge_replaces_only_the_rerun_sections() -> None:
    previous = ("# Benchmark results\n\n- date: then\n\n## Fitting\n\nold fit\n\n"
                "### detail\n\nkept with its section\n\n## Reading\n\nold read\n")
    merged = merge_sections(previous, ["## Reading\n\nnew read", "## Extra\n\nextra"])
    assert merged.index("## Fitting") < merged.index("## Reading") < merged.index("## Extra")
    assert "old fit" in merged and "### detail\n\nkept with its section" in merged
    assert "new read" in merged and "old read" not in merged
    assert "- date: then" in merged and "- re-run " in merged and ": Reading, Extra" in merged
