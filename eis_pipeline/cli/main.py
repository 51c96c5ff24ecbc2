"""Entry point of ``eis-pipeline``: a click group whose subcommands load on first use.

Loading lazily keeps ``eis-pipeline --help`` instant: scipy, matplotlib and dask are imported
only by the commands that need them.
"""

from __future__ import annotations

import importlib
from typing import Any

import click

from eis_pipeline import __version__

#: command name -> "module:attribute"
COMMANDS: dict[str, str] = {
    "run": "eis_pipeline.cli.run:run",
    "init": "eis_pipeline.cli.init:init",
    "fit": "eis_pipeline.cli.fit:fit",
    "inspect": "eis_pipeline.cli.inspect:inspect",
    "formats": "eis_pipeline.cli.formats:formats",
    "circuits": "eis_pipeline.cli.circuits:circuits",
    "report": "eis_pipeline.cli.report:report",
    "export": "eis_pipeline.cli.export:export",
}

#: one-line help shown by ``eis-pipeline --help`` without importing the command
SHORT_HELP: dict[str, str] = {
    "run": "Run a whole campaign (TOML config or data folders) into one HDF5 file.",
    "init": "Write the campaign config a folder run would infer, to edit and keep.",
    "fit": "Fit equivalent circuits to files directly, without a config.",
    "inspect": "Describe an instrument export or a results file.",
    "formats": "List the supported instrument formats.",
    "circuits": "List circuit presets and elements.",
    "report": "Write a self-contained HTML report of a results file.",
    "export": "Export spectra and fits as CSV, ZView .z or BDF files.",
}


class LazyGroup(click.Group):
    """A click group that imports each subcommand only when it is invoked."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = COMMANDS.get(cmd_name)
        if target is None:
            return None
        module_name, attr = target.split(":")
        command: Any = getattr(importlib.import_module(module_name), attr)
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(name, SHORT_HELP.get(name, "")) for name in COMMANDS]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="eis-pipeline")
def cli() -> None:
    """Impedance spectroscopy of solid-electrolyte pellets, from raw exports to results.

    \b
    Typical use:
      eis-pipeline formats                       what can be read
      eis-pipeline inspect data/pellet_25C.mpt   what is in a file
      eis-pipeline fit data/*.mpt --preset bulk-gb-electrode --thickness-mm 1 --diameter-mm 10
      eis-pipeline run configs/example.toml -o results.h5

    Run `eis-pipeline COMMAND --help` for each command's options.
    """


if __name__ == "__main__":  # pragma: no cover
    cli()
