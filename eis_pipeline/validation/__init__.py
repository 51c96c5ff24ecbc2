"""Data validity and model-free analysis: Kramers-Kronig test, distribution of relaxation times.

- :func:`kramers_kronig` — Lin-KK test (PHYSICS.md section 8) -> :class:`KramersKronigResult`
- :func:`drt` — Tikhonov-regularised NNLS distribution of relaxation times -> :class:`DrtResult`
- :func:`suggest_arcs` — ``[(R_ohm, tau_s), ...]`` sorted by τ from a DRT, to seed circuit fits

All take frequency in Hz and complex impedance in ohm with the physical sign (Z'' < 0 for a
capacitive response) as plain arrays; they do no I/O and no plotting.
"""

from eis_pipeline.validation.drt import DrtPeak, DrtResult, drt, suggest_arcs
from eis_pipeline.validation.kramers_kronig import KramersKronigResult, kramers_kronig

__all__ = ["DrtPeak", "DrtResult", "KramersKronigResult", "drt", "kramers_kronig",
           "suggest_arcs"]
