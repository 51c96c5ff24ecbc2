"""``eis-pipeline compile``: compile the numerical kernels once, after installing."""

from __future__ import annotations

import click


@click.command("compile")
def compile_command() -> None:
    """Compile the fit, Kramers-Kronig and DRT kernels for this machine, once.

    The kernels are compiled by numba on first use and cached on disk; without this step the
    first `eis-pipeline fit` or `run` after installing does it (a minute or more). `make
    install` runs it. Running it again only loads the cache (a few seconds). Set
    NUMBA_CACHE_DIR to keep the cache elsewhere (e.g. when the install folder is read-only
    and the home folder is not shared with the compute nodes).
    """
    from eis_pipeline.warmup import compile_kernels

    click.echo("compiling the kernels for this machine (cached for later commands):")
    seconds = compile_kernels(echo=lambda line: click.echo(f"  {line}"))
    click.echo(f"done in {seconds:.0f} s")
