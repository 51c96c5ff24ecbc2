"""One source for every numerical kernel: compiled by numba, or the same code in plain Python.

A kernel module decorates its functions with :func:`kernel`. With numba installed they are
compiled (``cache=True``: machine code is kept on disk for the next process); without it they
stay plain Python functions. :func:`pure` loads a kernel module's *same source file* a second
time with the decorator switched off, so a whole call tree (a solver calling its helpers, an
evaluator calling element formulas) runs uncompiled: the fallback when numba is installed but
the compiled path is switched off or cannot load, and the reference the tests compare the
compiled code with. There is never a second, hand-written copy of the arithmetic.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import sys
import threading
from collections.abc import Callable
from types import ModuleType
from typing import Any, TypeVar

__all__ = ["AVAILABLE", "FirstClass", "kernel", "pure", "twin"]

F = TypeVar("F", bound=Callable[..., Any])

#: Whether numba is importable (it is a dependency; a broken install leaves this False).
AVAILABLE: bool = (importlib.util.find_spec("numba") is not None
                   and os.environ.get("NUMBA_DISABLE_JIT", "0") in ("", "0"))

_PURE_SUFFIX = "__pure"
_loading_pure = threading.local()
_lock = threading.RLock()


def _pure_now() -> bool:
    return bool(getattr(_loading_pure, "on", False))


def kernel(fn: F | None = None, *, signature: Any = None) -> Any:
    """Compile ``fn`` with numba (``nopython``, cached on disk); plain ``fn`` when numba is
    absent or while :func:`pure` loads the module. ``signature`` compiles eagerly for that
    signature only (needed for functions passed to other kernels as first-class values)."""
    def wrap(f: F) -> Any:
        if _pure_now() or not AVAILABLE:
            return f
        import numba

        # error_model="numpy": 1/0 gives inf (a trial point the solver rejects), as in numpy,
        # instead of raising ZeroDivisionError inside compiled code
        if signature is None:
            return numba.njit(cache=True, error_model="numpy")(f)
        return numba.njit(signature, cache=True, error_model="numpy")(f)
    return wrap if fn is None else wrap(fn)


def pure(module: str) -> ModuleType:
    """The kernel module ``module`` loaded from the same file with :func:`kernel` a no-op.

    Kernel modules import each other through :func:`twin`, so a pure module uses pure
    helpers all the way down.
    """
    name = module + _PURE_SUFFIX
    loaded = sys.modules.get(name)
    if loaded is not None:
        return loaded
    with _lock:
        loaded = sys.modules.get(name)
        if loaded is not None:
            return loaded
        spec = importlib.util.find_spec(module)
        if spec is None or spec.origin is None:
            raise ImportError(f"no kernel module {module}")
        return load_file(spec.origin, name, pure_mode=True)


def load_file(path: str, name: str, *, pure_mode: bool) -> ModuleType:
    """Import the Python file ``path`` as module ``name`` (compiled or pure kernels)."""
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {path}")
    mod = importlib.util.module_from_spec(spec)
    with _lock:
        before = _pure_now()
        _loading_pure.on = pure_mode
        try:
            sys.modules[name] = mod
            spec.loader.exec_module(mod)
        except BaseException:
            sys.modules.pop(name, None)
            raise
        finally:
            _loading_pure.on = before
    return mod


def twin(module: str) -> ModuleType:
    """Inside a kernel module: the compiled module ``module``, or its pure twin while a pure
    module is being loaded."""
    return pure(module) if _pure_now() else importlib.import_module(module)


class FirstClass:
    """A compiled kernel with one explicit signature, as a first-class function argument of
    other kernels (numba's ``FunctionType``): the receiving kernel is compiled once for every
    function of that signature, and calls it through a pointer.

    Passing the dispatcher itself would also work, but numba then looks its address up on
    every call (~0.1 ms); this object looks it up once (numba's wrapper-address protocol).
    """

    def __init__(self, dispatcher: Any) -> None:
        from numba.core import types
        from numba.experimental.function_type import _get_wrapper_address

        signature = dispatcher.nopython_signatures[0]
        self._numba_type_ = types.FunctionType(signature)
        self.dispatcher = dispatcher
        self._address = int(_get_wrapper_address(dispatcher, signature))

    def __wrapper_address__(self) -> int:
        return self._address

    def __call__(self, *args: Any) -> Any:
        return self.dispatcher(*args)
