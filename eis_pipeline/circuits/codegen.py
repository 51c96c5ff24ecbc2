"""A specialised evaluator generated for each circuit structure, compiled once and cached.

For a circuit such as ``p(R1,CPE1)-CPE2`` this writes the Python source of kernels that, at
every frequency, call the element formulas of :mod:`~eis_pipeline.circuits.element_kernels`
and combine them in straight-line code: no operation codes interpreted per point, no
temporaries. The source depends on the circuit's *structure* only (element kinds and how they
are connected: ``p(R,CPE)-CPE``), not on the element names, so renamed circuits share one
evaluator. The file goes into a cache folder (:func:`cache_dir`) under a name hashed from the
structure, the element formulas' source and this generator's version, and numba keeps its
machine code next to it: a circuit is compiled once per machine, not once per process or per
spectrum. The pure-Python twin of a generated module (:func:`~eis_pipeline._jit.pure` mode)
runs the same source uncompiled.

Each module defines one kernel, ``evaluate(p, omega, z, jac)``: Z (N,) and dZ/dp (N, P) for
one parameter vector p (P,), natural units, at angular frequencies ω (N,). It has one numba
signature, so other kernels take it as a first-class function (compiled once for every
circuit): the solver (:mod:`eis_pipeline.fitting._lm_kernels`) and the batch loops of
:mod:`~eis_pipeline.circuits.batch_kernels`. Only this small function is compiled per
structure (about a second, once per machine).

Jacobian (PHYSICS.md section 2): an element's parameters enter Z only through that element,
so dZ/dp = (dZ/dZ_leaf) dZ_leaf/dp, and the chain factor dZ/dZ_leaf is the product, along the
path to the root, of 1 per series block and (Z_block / Z_child)² per parallel block.
"""

from __future__ import annotations

import hashlib
import inspect
import os
import tempfile
from functools import cache
from pathlib import Path
from types import ModuleType

from eis_pipeline import _jit
from eis_pipeline.circuits import element_kernels
from eis_pipeline.circuits.elements import ELEMENTS
from eis_pipeline.circuits.grammar import Element, Node, Series

__all__ = ["EVALUATE_SIGNATURE", "cache_dir", "evaluator", "generate_source", "structure"]

#: numba signature of ``evaluate`` (what the compiled solver calls through a pointer).
EVALUATE_SIGNATURE = "void(float64[::1], float64[::1], complex128[::1], complex128[:, ::1])"
#: Bump when the generated code changes shape (the file name hashes it).
_VERSION = "2"


def structure(ast: Node) -> str:
    """The circuit with element names reduced to their kinds: ``p(R,CPE)-CPE``."""
    if isinstance(ast, Element):
        return ast.kind
    inner = [structure(child) for child in ast.children]
    if isinstance(ast, Series):
        return "-".join(inner)
    return "p(" + ",".join(inner) + ")"


class _Writer:
    """Straight-line code of one frequency point, values bottom-up, factors top-down."""

    def __init__(self) -> None:
        self.values: list[str] = []
        self.factors: list[str] = []
        self.outputs: list[str] = []
        self.n_params = 0
        self.n_vars = 0

    def var(self, prefix: str) -> str:
        self.n_vars += 1
        return f"{prefix}{self.n_vars}"

    def value(self, node: Node) -> str:
        """Emit ``node``'s value (and, in a parallel block, each child's admittance); return
        the value's variable."""
        if isinstance(node, Element):
            element = ELEMENTS[node.kind]
            start = self.n_params
            self.n_params += element.n_params
            v = self.var("v")
            derivs = [f"d{start + i}" for i in range(element.n_params)]
            args = ", ".join(f"p{start + i}" for i in range(element.n_params))
            self.values.append(f"{v}, {', '.join(derivs)} = K.{element.kernel}(w, {args})")
            self._leaves[id(node)] = (start, element.n_params)
            return v
        children = [self.value(child) for child in node.children]
        v = self.var("v")
        if isinstance(node, Series):
            self.values.append(f"{v} = {' + '.join(children)}")
            self._blocks[id(node)] = (v, [])
            return v
        inverses = []
        for c in children:
            i = self.var("y")
            self.values.append(f"{i} = K.reciprocal({c})")
            inverses.append(i)
        self.values.append(f"{v} = K.reciprocal({' + '.join(inverses)})")
        self._blocks[id(node)] = (v, inverses)
        return v

    def factor(self, node: Node, f: str | None) -> None:
        """Emit the chain factors below ``node`` (``f``: its own; None means 1) and the
        Jacobian entries of its leaves."""
        if isinstance(node, Element):
            start, n = self._leaves[id(node)]
            for i in range(start, start + n):
                self.outputs.append(f"jac[k, {i}] = {f} * d{i}" if f else f"jac[k, {i}] = d{i}")
            return
        v, inverses = self._blocks[id(node)]
        for index, child in enumerate(node.children):
            if isinstance(node, Series):
                self.factor(child, f)
                continue
            t = self.var("t")
            c = self.var("c")
            self.factors.append(f"{t} = {v} * {inverses[index]}")
            self.factors.append(f"{c} = {t} * {t}" + (f" * {f}" if f else ""))
            self.factor(child, c)

    def point(self, ast: Node) -> tuple[str, int]:
        self._leaves: dict[int, tuple[int, int]] = {}
        self._blocks: dict[int, tuple[str, list[str]]] = {}
        root = self.value(ast)
        self.factor(ast, None)
        return root, self.n_params


def _body(ast: Node) -> tuple[list[str], int]:
    writer = _Writer()
    root, n_params = writer.point(ast)
    lines = [f"p{i} = p[{i}]" for i in range(n_params)]
    lines.append("for k in range(omega.shape[0]):")
    inner = ["w = omega[k]", *writer.values, f"z[k] = {root}", *writer.factors,
             *writer.outputs]
    lines.extend("    " + line for line in inner)
    return lines, n_params


def generate_source(ast: Node) -> str:
    """The Python source of the evaluator module for ``ast``'s structure."""
    zj, n_params = _body(ast)

    def indent(lines: list[str]) -> str:
        return "\n".join("    " + line for line in lines)

    return f'''"""Generated by eis_pipeline.circuits.codegen: {structure(ast)}.

Do not edit: regenerated from the circuit structure when missing.
"""
from eis_pipeline._jit import kernel, twin

K = twin("eis_pipeline.circuits.element_kernels")
N_PARAMS = {n_params}


@kernel(signature="{EVALUATE_SIGNATURE}")
def evaluate(p, omega, z, jac):  # pragma: no cover - generated
{indent(zj)}
'''


@cache
def _kernel_fingerprint() -> str:
    """What the generated code depends on besides the structure."""
    parts = [_VERSION, inspect.getsource(element_kernels), inspect.getsource(_jit)]
    try:
        import numba

        parts.append(numba.__version__)
    except ImportError:
        parts.append("no numba")
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()


@cache
def cache_dir() -> Path:
    """Folder of the generated evaluators: ``$EIS_PIPELINE_CACHE_DIR``, else
    ``$XDG_CACHE_HOME/eis_pipeline/circuits`` (``~/.cache/...``), else a folder in the
    system's temporary directory when those are not writable."""
    env = os.environ.get("EIS_PIPELINE_CACHE_DIR")
    candidates = [Path(env)] if env else []
    xdg = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    candidates.append(Path(xdg) / "eis_pipeline" / "circuits")
    candidates.append(Path(tempfile.gettempdir()) / f"eis_pipeline-{os.getuid()}" / "circuits"
                      if hasattr(os, "getuid") else
                      Path(tempfile.gettempdir()) / "eis_pipeline" / "circuits")
    for folder in candidates:
        try:
            folder.mkdir(parents=True, exist_ok=True)
            probe = folder / f".probe-{os.getpid()}"
            probe.write_text("")
            probe.unlink()
            return folder
        except OSError:
            continue
    raise OSError("no writable cache folder for the generated circuit evaluators; set "
                  "EIS_PIPELINE_CACHE_DIR to a writable folder")


def _source_file(ast: Node) -> tuple[Path, str]:
    key = hashlib.sha256(f"{structure(ast)}\0{_kernel_fingerprint()}".encode()).hexdigest()[:20]
    path = cache_dir() / f"circuit_{key}.py"
    if not path.is_file():
        source = generate_source(ast)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        tmp.write_text(source, encoding="utf-8")
        os.replace(tmp, path)   # atomic: concurrent processes write the same bytes
    return path, f"eis_pipeline._generated.circuit_{key}"


_MODULES: dict[tuple[str, bool], ModuleType] = {}


def evaluator(ast: Node, *, pure: bool = False) -> ModuleType:
    """The generated evaluator module of ``ast``'s structure (compiled, or its pure twin)."""
    key = (structure(ast), pure or not _jit.AVAILABLE)
    module = _MODULES.get(key)
    if module is None:
        path, name = _source_file(ast)
        module = _jit.load_file(str(path), name + ("__pure" if key[1] else ""),
                                pure_mode=key[1])
        _MODULES[key] = module
    return module
