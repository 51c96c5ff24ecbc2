"""Data validity and model-free analysis: Kramers-Kronig test, distribution of relaxation times."""
