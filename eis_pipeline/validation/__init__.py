"""Data validity and model-free analysis: Kramers-Kronig test, distribution of relaxation times.

- :func:`eis_pipeline.kramers_kronig` (module ``kramers_kronig``): Lin-KK test, PHYSICS.md
  section 8 -> :class:`~eis_pipeline.validation.kramers_kronig.KramersKronigResult`
- :func:`eis_pipeline.drt` (module ``drt``): Tikhonov-regularised NNLS distribution of
  relaxation times -> :class:`~eis_pipeline.validation.drt.DrtResult`
- :func:`eis_pipeline.validation.drt.suggest_arcs`: ``[(R_ohm, tau_s), ...]`` sorted by τ, to
  seed circuit fits

All take frequency in Hz and complex impedance in ohm with the physical sign (Z'' < 0 for a
capacitive response) as plain arrays; they do no I/O and no plotting. The functions are not
re-exported here: they share their modules' names, and a re-export would hide the modules.
"""
