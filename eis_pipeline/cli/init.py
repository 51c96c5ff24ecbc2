"""``eis-pipeline init``: the campaign config a folder run would infer, written out."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from eis_pipeline.cli.run import geometry_options
from eis_pipeline.exceptions import EisError
from eis_pipeline.folder import plan_folders


@click.command()
@click.argument("folders", nargs=-1, required=True,
                type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("-o", "--output", "config_file", type=click.Path(dir_okay=False, path_type=Path),
              help="Write the config here (paths in it relative to its folder). Default: "
                   "standard output, with paths relative to the current directory.")
@geometry_options
def init(folders: tuple[Path, ...], config_file: Path | None, thickness_mm: float | None,
         diameter_mm: float | None, area_cm2: float | None) -> None:
    """Write the commented TOML config that `eis-pipeline run FOLDERS` would use.

    The inference (samples, importer and temperature per file, geometry and where it came
    from) goes to standard error; the config to standard output or -o FILE. Edit it (circuit,
    frequency window, synthesis parameters) and run it with `eis-pipeline run FILE`.

    \b
    Examples:
      eis-pipeline init data/ --thickness-mm 0.8 --diameter-mm 10 > campaign.toml
      eis-pipeline init data/ -o configs/milling.toml
    """

    where = (config_file.parent if config_file else Path.cwd()).resolve()
    try:
        plan = plan_folders(folders, thickness_mm=thickness_mm, diameter_mm=diameter_mm,
                            area_cm2=area_cm2, base_dir=where)
    except (EisError, OSError) as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)
    click.echo(plan.describe(), err=True)
    text = plan.to_toml(where)
    if config_file is None:
        click.echo(text, nl=False)
        return
    if config_file.exists():
        click.echo(f"error: {config_file} exists; remove it or choose another name", err=True)
        sys.exit(2)
    config_file.write_text(text, encoding="utf-8")
    click.echo(f"wrote {config_file}", err=True)
