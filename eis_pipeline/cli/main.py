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
    "compile": "eis_pipeline.cli.compile:compile_command",
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
    "compile": "Compile the numerical kernels once after installing (else the first fit does).",
}


class NonBlank(click.ParamType):
    """A text or path parameter type that refuses an empty or whitespace-only value.

    ``--circuit ""`` would otherwise mean "the default" and ``-o ""`` the current folder
    (``Path("")`` is ``.``): both are almost always a shell variable that was not set.
    Everything else is the wrapped type's."""

    def __init__(self, inner: click.ParamType) -> None:
        self.inner = inner
        self.name = inner.name

    def convert(self, value: Any, param: click.Parameter | None,
                ctx: click.Context | None) -> Any:
        if isinstance(value, str) and not value.strip():
            hint = (" (or leave the option out for its default)"
                    if isinstance(param, click.Option) else "")
            self.fail(f"{value!r} is empty; give a value{hint}", param, ctx)
        return self.inner.convert(value, param, ctx)

    def get_metavar(self, *args: Any, **kwargs: Any) -> str | None:
        return self.inner.get_metavar(*args, **kwargs)

    def split_envvar_value(self, rv: str) -> Any:
        return self.inner.split_envvar_value(rv)

    def shell_complete(self, *args: Any, **kwargs: Any) -> Any:
        return self.inner.shell_complete(*args, **kwargs)

    def to_info_dict(self) -> Any:
        return self.inner.to_info_dict()


def refuse_blank_values(command: click.Command) -> click.Command:
    """Every text and path option or argument of ``command`` (and its subcommands) refuses
    an empty value: a usage error naming the option, before the command runs."""
    for param in command.params:
        if isinstance(param.type, click.types.StringParamType | click.Path):
            param.type = NonBlank(param.type)
    if isinstance(command, click.Group):
        for sub in command.commands.values():
            refuse_blank_values(sub)
    return command


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
        return refuse_blank_values(command)

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
