"""``eis-pipeline formats``: the importers this installation knows."""

from __future__ import annotations

import click

from eis_pipeline.io.registry import list_formats


@click.command()
def formats() -> None:
    """List the supported instrument formats.

    Use a NAME from the first column with --format (or format= in a config) when automatic
    detection from the file content needs help.
    """

    rows = list_formats()
    width = max((len(str(r["name"])) for r in rows), default=4)
    swidth = max((len(" ".join(r["suffixes"])) for r in rows), default=8)  # type: ignore[arg-type]
    click.echo(f"{'NAME':<{width}}  {'SUFFIXES':<{swidth}}  DESCRIPTION")
    for r in rows:
        suffixes = " ".join(r["suffixes"])  # type: ignore[arg-type]
        click.echo(f"{r['name']:<{width}}  {suffixes:<{swidth}}  {r['description']}")
