"""A self-contained HTML report of a results tree: one file, readable offline and printable.

Figures are inline (summary figures as SVG, the many per-spectrum figures as PNG data URIs to
keep the file small); the only script is a few lines of inline JavaScript that sort tables, so
opening the file makes no network request. Works on the tree of
:func:`eis_pipeline.pipeline.run` or one read back with ``read_results``.
"""

from __future__ import annotations

import base64
import html
import json
import sys
from collections.abc import Callable
from functools import partial
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from eis_pipeline import __version__
from eis_pipeline.conventions import ZERO_CELSIUS_K
from eis_pipeline.io.atomic import replacing
from eis_pipeline.packing import sample_spectra
from eis_pipeline.parallel import run_tasks
from eis_pipeline.report import figures
from eis_pipeline.report.figures import figure_bytes
from eis_pipeline.report.plots import isolated, render_spectra, series_figures
from eis_pipeline.report.tables import (
    COMPONENTS,
    DISAGREE_SIGMAS,
    EXTRAPOLATED_MARK,
    sigma_unit,
    summary_rows,
    value_with_error,
)

#: Libraries whose versions go into the provenance section.
_DEPENDENCIES = ("numpy", "scipy", "xarray", "h5py", "h5netcdf", "matplotlib", "numba",
                 "impedance")
_SHORT = {"bulk": "bulk", "grain_boundary": "gb", "total": "total"}
#: The tag that marks a file as a report of this tool (only such a file is replaced).
GENERATOR = '<meta name="generator" content="eis_pipeline report">'

_CSS = """
body{font:14px/1.45 system-ui,sans-serif;margin:1.5em auto;max-width:1100px;color:#222;
padding:0 1em}
h1{font-size:1.5em}h2{border-bottom:1px solid #ccc;padding-bottom:.2em;margin-top:2em}
table{border-collapse:collapse;margin:.5em 0;font-variant-numeric:tabular-nums}
th,td{border:1px solid #ddd;padding:.25em .55em;text-align:right;white-space:nowrap}
th{background:#f3f3f3;cursor:pointer}td:first-child,th:first-child{text-align:left}
tr.bad td{background:#fff1f0}.extrapolated{color:#a15c00}
figure{display:inline-block;margin:.4em;vertical-align:top}
figure svg,figure img{max-width:100%;height:auto}
details{margin:.3em 0}summary{cursor:pointer}
pre{white-space:pre-wrap;background:#f7f7f7;padding:.6em;font-size:12px}
.note{color:#555;font-size:.92em}
table.info td{white-space:normal;text-align:left;overflow-wrap:anywhere}
@media print{details{display:block}details>*{display:block}th{cursor:auto}}
"""

_JS = """
document.querySelectorAll('table.sortable th').forEach((th, i) =>
    th.addEventListener('click', () => {
  const body = th.closest('table').tBodies[0];
  const key = r => { const t = r.cells[i].dataset.value ?? r.cells[i].textContent;
                     const x = parseFloat(t); return isNaN(x) ? t : x; };
  const dir = th.dataset.dir = th.dataset.dir === 'asc' ? 'desc' : 'asc';
  [...body.rows].sort((a, b) => (key(a) > key(b) ? 1 : key(a) < key(b) ? -1 : 0) *
                               (dir === 'asc' ? 1 : -1)).forEach(r => body.appendChild(r));
}));
"""


def _esc(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _anchor(*parts: str) -> str:
    return "-".join("".join(c if c.isalnum() else "_" for c in p) for p in parts)


def _svg(fig: Any) -> str:
    """A figure as inline SVG markup (the XML prolog dropped)."""

    text = figure_bytes(fig, "svg").decode("utf-8")
    return text[text.index("<svg"):]


#: Resolution of the per-spectrum PNGs (screen: a campaign has many spectra).
_SPECTRUM_DPI = 90


def _png_markup(data: bytes) -> str:
    return f'<img alt="" src="data:image/png;base64,{base64.b64encode(data).decode("ascii")}">'


def _figure(markup: str, caption: str) -> str:
    return f"<figure>{markup}<figcaption>{_esc(caption)}</figcaption></figure>"


def _table(header: list[str], rows: list[list[str]], *, classes: list[str] | None = None,
           kind: str = "sortable") -> str:
    """``rows`` are already-escaped cell markup."""
    head = "".join(f"<th>{_esc(h)}</th>" for h in header)
    body = "".join(
        f'<tr class="{classes[i] if classes else ""}">' + "".join(f"<td>{c}</td>" for c in row)
        + "</tr>" for i, row in enumerate(rows))
    return (f'<table class="{kind}"><thead><tr>{head}</tr></thead>'
            f"<tbody>{body}</tbody></table>")


#: Summary keys that are results, not synthesis parameters (those become the varied columns).
_RESULT_KEYS = ("sigma25_", "sigma_ref_", "Ea_", "T0_", "n_", "warnings", "series_fit_",
                "temperature_law", "vtf_note",
                "reference_temperature_K")


def _summary_section(tree: xr.DataTree) -> str:
    rows = summary_rows(tree)
    if not rows:
        return "<p>No campaign summary in this file.</p>"
    shorts = [s for s in _SHORT.values() if any(f"sigma25_{s}_S_cm" in r for r in rows)]
    units = {s: sigma_unit([r.get(f"sigma25_{s}_S_cm", np.nan) for r in rows]) for s in shorts}
    # only the synthesis parameters that vary: the constant ones would crowd the table
    synthesis = [k for k in rows[0] if k != "sample"
                 and not k.startswith(_RESULT_KEYS)
                 and len({str(r.get(k)) for r in rows}) > 1]
    # the global series fit's E_a beside the per-spectrum one, where a sample has it
    glob = [s for s in shorts if any(f"Ea_{s}_global_eV" in r for r in rows)]
    header = (["sample", *synthesis] + [f"σ(25 °C) {s} ({units[s][1]})" for s in shorts]
              + [f"Ea {s} (eV)" for s in shorts] + [f"Ea {s} global (eV)" for s in glob]
              + ["fits converged", "KK failed"])
    cells = []
    for row in rows:
        name = str(row["sample"])
        line = [f'<a href="#{_anchor("sample", name)}">{_esc(name)}</a>']
        line += [_esc(row.get(k, "")) for k in synthesis]
        for s in shorts:
            factor = units[s][0]
            value = row.get(f"sigma25_{s}_S_cm", np.nan)
            text = _esc(value_with_error(value * factor,
                                         row.get(f"sigma25_{s}_stderr_S_cm", np.nan) * factor))
            if row.get(f"sigma25_{s}_extrapolated"):
                text = (f'<span class="extrapolated" title="extrapolated outside the measured '
                        f'temperature range">{text}{EXTRAPOLATED_MARK}</span>')
            line.append(f'<span data-value="{value}">{text}</span>')
        line += [_esc(value_with_error(row.get(f"Ea_{s}_eV", np.nan),
                                       row.get(f"Ea_{s}_stderr_eV", np.nan))) for s in shorts]
        for s in glob:
            text = _esc(value_with_error(row.get(f"Ea_{s}_global_eV", np.nan),
                                         row.get(f"Ea_{s}_global_stderr_eV", np.nan)))
            if row.get(f"Ea_{s}_disagree"):
                text = (f'<span class="extrapolated" title="more than {DISAGREE_SIGMAS:g} '
                        f'combined standard errors from the per-spectrum E_a">{text} '
                        "(disagrees)</span>")
            line.append(text)
        line += [f"{row.get('n_converged', 0)}/{row.get('n_spectra', 0)}",
                 _esc(row.get("n_kk_failed", 0))]
        cells.append(line)
    extrapolated = any(r.get(f"sigma25_{s}_extrapolated") for r in rows for s in shorts)
    note = "" if not extrapolated else (
        f'<p class="note">{EXTRAPOLATED_MARK} σ(25 °C) extrapolated outside the measured '
        "temperature range with the fitted Arrhenius law: not a measurement.</p>")
    best = tree["campaign"].attrs.get("best_sample")
    best_text = f"<p>Best sample (highest total σ at 25 °C): <b>{_esc(best)}</b></p>" if best \
        else ""
    return f'<div style="overflow-x:auto">{_table(header, cells)}</div>' + note + best_text


def _trend_section(tree: xr.DataTree) -> str:

    if "campaign" not in tree.children:
        return ""
    summary = tree["campaign"].ds
    parts = []
    for key in summary.data_vars:
        var = summary[key]
        if (var.attrs.get("synthesis_parameter") and var.dtype.kind == "f"
                and np.unique(var.values[np.isfinite(var.values)]).size > 1):
            parts.append(_figure(_svg(figures.trend_plot(summary, str(key))),
                                 f"σ(25 °C) against {key}"))
    return "".join(parts) or "<p>No synthesis parameter varies across the campaign.</p>"


def _spectrum_rows(node: xr.DataTree) -> list[dict[str, Any]]:
    """Per spectrum of a sample: id, temperature, circuit, fit and KK quality."""
    fits = node["fit"].ds if "fit" in node.children else None
    kk = node["validation"].ds if "validation" in node.children else None
    rows = []
    for sid, ds in sample_spectra(node):
        row: dict[str, Any] = {"id": str(sid), "T_C": np.nan}
        if "temperature" in ds:
            row["T_C"] = float(np.nanmean(ds["temperature"].values)) - ZERO_CELSIUS_K
        if fits is not None:
            i = np.flatnonzero(fits["spectrum_id"].values.astype(str) == sid)
            if i.size:
                j = int(i[0])
                row["circuit"] = (str(fits["preset"].values[j]) if "preset" in fits
                                  else str(fits.attrs.get("circuit", "")))
                row["converged"] = bool(fits["converged"].values[j])
                row["chi2"] = float(fits["reduced_chi_square"].values[j])
        if kk is not None:
            i = np.flatnonzero(kk["spectrum_id"].values.astype(str) == sid)
            if i.size:
                j = int(i[0])
                row["kk_max"] = float(kk["kk_max_residual"].values[j])
                row["kk_passed"] = bool(kk["kk_passed"].values[j])
                row["kk_reason"] = str(kk["kk_reason"].values[j]) if "kk_reason" in kk else ""
        rows.append(row)
    return rows


def _svg_of(build: Callable[[], Any]) -> str:
    return _svg(build())


def _sample_section(name: str, node: xr.DataTree,
                    images: dict[str, tuple[str, list[tuple[str, bytes]]]],
                    failed: dict[str, list[str]]) -> str:
    """A sample's Arrhenius plot, spectrum table and per-spectrum figures (``images``: id ->
    title and rendered PNGs; ``failed``: id -> reasons of figures that could not be drawn)."""

    parts = [f'<h2 id="{_anchor("sample", name)}">Sample {_esc(name)}</h2>']
    if "conductivity" in node.children and "arrhenius" in node.children:
        cond = node["conductivity"].ds
        sigma = {c: cond["conductivity"].sel(component=c).values
                 for c in COMPONENTS if c in cond["component"].values}
        fig = figures.arrhenius_plot(cond["temperature"].values, sigma,
                                     fit=node["arrhenius"].ds, title=name)
        parts.append(_figure(_svg(fig), f"Arrhenius plot of {name}"))
    for what, _, build in series_figures(node):
        # one figure that cannot be drawn is said in place; the report goes on
        lost: list[dict[str, Any]] = []
        svg = isolated(lost, name, what, partial(_svg_of, build))
        if svg is not None:
            parts.append(_figure(svg, f"{what[0].upper()}{what[1:]} of {name}"))
        else:
            exc = lost[0]["exception"]
            parts.append(f'<p class="note">{_esc(what)} not drawn: '
                         f"{_esc(type(exc).__name__)}: {_esc(exc)}</p>")
    if "spectra" not in node.children:
        return "".join(parts)
    rows = _spectrum_rows(node)
    header = ["spectrum", "T (°C)", "circuit", "fit", "reduced χ²", "KK max residual (%)",
              "KK"]
    cells, classes = [], []
    for row in rows:
        link = f'<a href="#{_anchor("spectrum", name, row["id"])}">{_esc(row["id"])}</a>'
        kk = ("-" if "kk_passed" not in row else "pass" if row["kk_passed"]
              else f'<span title="{_esc(row.get("kk_reason", ""))}">fail</span>')
        cells.append([link, f"{row['T_C']:.1f}", _esc(row.get("circuit", "-")),
                      "converged" if row.get("converged") else "not converged",
                      f"{row.get('chi2', np.nan):.3g}",
                      f"{100 * row.get('kk_max', np.nan):.2f}", kk])
        classes.append("" if row.get("converged", True) and row.get("kk_passed", True)
                       else "bad")
    parts.append(_table(header, cells, classes=classes))
    for row in rows:
        title, pngs = images.get(row["id"], (row["id"], []))
        markup = "".join(_figure(_png_markup(data), kind) for kind, data in pngs)
        markup += "".join(f'<p class="note">figure not drawn: {_esc(reason)}</p>'
                          for reason in failed.get(row["id"], []))
        parts.append(f'<details id="{_anchor("spectrum", name, row["id"])}">'
                     f"<summary>{_esc(title)}</summary>{markup}</details>")
    return "".join(parts)


def _chunks(node: xr.DataTree, size: int) -> list[xr.DataTree]:
    """``node`` split into nodes of at most ``size`` spectra each (fits, checks and DRT kept
    whole: figures look their rows up by spectrum id)."""
    if "spectra" not in node.children:
        return []
    others = {k: v for k, v in node.children.items() if k != "spectra"}
    spectra = node["spectra"].to_dataset()
    n = spectra.sizes.get("spectrum", 0)
    return [xr.DataTree(node.to_dataset(inherit=False), name=node.name, children={
        **others, "spectra": xr.DataTree(spectra.isel(spectrum=slice(k, k + size)))})
            for k in range(0, n, size)]


def _render_chunk(node: xr.DataTree) -> tuple[list[tuple[str, str, list[tuple[str, bytes]]]],
                                               list[dict[str, Any]]]:
    """A worker's task: the PNGs of a chunk's spectra, and the figures that failed."""

    failures: list[dict[str, Any]] = []
    rendered = render_spectra(node, fmt="png", dpi=_SPECTRUM_DPI, failures=failures)
    return rendered, [{k: v for k, v in f.items() if k != "exception"} for f in failures]


def _spectrum_images(samples: list[tuple[str, xr.DataTree]], jobs: int, progress: bool | None
                     ) -> tuple[dict[str, dict[str, tuple[str, list[tuple[str, bytes]]]]],
                                list[dict[str, Any]]]:
    """Every sample's per-spectrum PNGs, drawn in ``jobs`` processes (drawing is the slow
    part of a report: about a second of matplotlib per figure); the figures that failed."""

    chunks = [c for _, node in samples for c in _chunks(node, 4)]
    images: dict[str, dict[str, tuple[str, list[tuple[str, bytes]]]]] = {}
    failures: list[dict[str, Any]] = []
    results = dict(run_tasks(_render_chunk, chunks, jobs=jobs, progress=progress,
                             desc="report figures"))
    for i, chunk in enumerate(chunks):   # in the tree's order, whatever finished first
        rendered, failed = results[i]
        for sid, title, pngs in rendered:
            images.setdefault(str(chunk.name), {})[sid] = (title, pngs)
        failures += failed
    return images, failures


def _failures_section(tree: xr.DataTree, drawn: list[dict[str, Any]]) -> str:
    """The run's /failures table, then the report's own figures that could not be drawn."""
    ds = tree["failures"].ds if "failures" in tree.children else xr.Dataset()
    names = [str(v) for v in ds.data_vars]
    cells = [[_esc(ds[v].values[i]) for v in names] for i in range(ds.sizes.get("failure", 0))]
    if drawn:
        names = names or ["sample", "file", "stage", "error", "reason"]
        cells += [[_esc(f.get(v, "")) for v in names] for f in drawn]
    if not cells:
        return "<p>None: every file and spectrum was processed.</p>"
    return _table(names, cells, kind="sortable info")


def _versions() -> dict[str, str]:
    found = {"python": sys.version.split()[0], "eis_pipeline (report)": __version__}
    for dist in _DEPENDENCIES:
        try:
            found[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            continue
    return found


def _provenance_section(tree: xr.DataTree, command: str | None) -> str:
    attrs = dict(tree.attrs)
    rows = [["written by", _esc(f"eis_pipeline {attrs.get('eis_pipeline_version', '?')}")],
            ["created", _esc(attrs.get("created", "?"))]]
    if command:
        rows.append(["report command", _esc(command)])
    if attrs.get("history"):
        rows.append(["history", _esc(attrs["history"])])
    rows += [[_esc(k), _esc(v)] for k, v in _versions().items()]
    parts = [_table(["item", "value"], rows, kind="sortable info")]
    files = []
    for sample, node in tree.children.items():
        if "spectra" in node.children:
            for sid, ds in sample_spectra(node):
                files.append([_esc(sample), _esc(sid), _esc(ds.attrs.get("source", "")),
                              f"<code>{_esc(ds.attrs.get('source_sha256', ''))}</code>"])
    if files:
        parts.append("<details><summary>Input files and their SHA-256</summary>"
                     + _table(["sample", "spectrum", "file", "sha256"], files,
                              kind="sortable info") + "</details>")
    config = attrs.get("config")
    if config:
        try:
            config = json.dumps(json.loads(str(config)), indent=2)
        except ValueError:
            config = str(config)
        parts.append(f"<details><summary>Configuration</summary><pre>{_esc(config)}</pre>"
                     "</details>")
    return "".join(parts)


def render_report(tree: xr.DataTree, *, title: str = "EIS campaign report",
                  command: str | None = None, jobs: int = 1,
                  progress: bool | None = False) -> str:
    """The HTML text of the report of ``tree``; ``command`` is recorded in the provenance.

    The per-spectrum figures are drawn in ``jobs`` processes; a figure that fails is said
    where it would be and listed with the failures (stage "plot"), the rest are drawn."""
    samples = [(str(n), node) for n, node in tree.children.items()
               if n not in {"campaign", "failures"}]
    images, figure_failures = _spectrum_images(samples, jobs, progress)
    failed: dict[tuple[str, str], list[str]] = {}
    for f in figure_failures:
        failed.setdefault((f["sample"], f["file"].split(" (")[0]), []).append(
            f"{f['file']}: {f['reason']}")
    toc = " · ".join(f'<a href="#{_anchor("sample", n)}">{_esc(n)}</a>' for n, _ in samples)
    body = [f"<h1>{_esc(title)}</h1>",
            f"<p>{len(samples)} samples: {toc}</p>",
            "<h2 id=\"summary\">Campaign summary</h2>", _summary_section(tree),
            "<h2 id=\"trends\">Trends</h2>", _trend_section(tree)]
    body += [_sample_section(n, node, images.get(n, {}),
                             {sid: r for (s, sid), r in failed.items() if s == n})
             for n, node in samples]
    body += ["<h2 id=\"failures\">Failures</h2>", _failures_section(tree, figure_failures),
             "<h2 id=\"provenance\">Provenance</h2>", _provenance_section(tree, command)]
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
            + GENERATOR + f"<title>{_esc(title)}</title><style>{_CSS}</style></head><body>"
            + "\n".join(body) + f"<script>{_JS}</script></body></html>\n")


def write_report(tree: xr.DataTree, path: str | Path, **options: Any) -> Path:
    """Write :func:`render_report` to ``path`` atomically; returns the path."""
    path = Path(path)
    text = render_report(tree, **options)
    with replacing(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return path


__all__ = ["GENERATOR", "render_report", "write_report"]
