"""``eis-pipeline circuits``: the circuit presets and elements this installation knows."""

from __future__ import annotations

import json

import click

from eis_pipeline.circuits import PRESETS, circuit_elements


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON instead.")
def circuits(as_json: bool) -> None:
    """List circuit presets and elements.

    \b
    Write circuits in impedance.py notation: '-' joins elements in series, p(a,b,...) puts
    them in parallel, each element is a kind plus an index, e.g.
      R0-p(R1,CPE1)-CPE2
    Boukamp CDC strings (R(RQ)Q) and the preset names below are accepted too. Parameters are
    named like impedance.py's: R1, CPE1_0 (Q), CPE1_1 (n).
    """

    elements = circuit_elements()
    if as_json:
        presets = [{"name": p.name, "circuit": p.circuit, "description": p.description,
                    "roles": p.roles.to_dict(), "bulk_from_intercept": p.bulk_from_intercept}
                   for p in PRESETS.values()]
        click.echo(json.dumps({"presets": presets, "elements": elements}, indent=2))
        return

    click.echo("PRESETS  (roles: role = elements; run `eis-pipeline circuits --json` for all)")
    for p in PRESETS.values():
        click.echo(f"  {p.name}")
        click.echo(f"      circuit:  {p.circuit}")
        roles = "; ".join(f"{role} = {', '.join(els.values())}" for role, els in p.roles.items())
        click.echo(f"      roles:    {roles}")
        click.echo(f"      {p.description}")
    click.echo("  auto")
    click.echo("      not a circuit: fits every preset above and keeps, per spectrum, the one with")
    click.echo("      the lowest BIC (`fit --preset auto`, circuit = \"auto\" in a config)")
    click.echo("")
    click.echo("ELEMENTS  (# = the element's index, e.g. CPE1_0 is Q of CPE1)")
    for e in elements:
        click.echo(f"  {e['name']:<5} {e['description']}: {e['formula']}")
        for spec in e["parameters"]:
            name = e["name"] + "#" + spec["suffix"]
            unit = spec["unit"] or "dimensionless"
            kind = "0 < value <= 1" if spec["kind"] == "exponent" else spec["kind"]
            click.echo(f"        {name:<8} {spec['symbol']:<6} {spec['description']} "
                       f"[{unit}] ({kind})")
