"""Batched equivalent-circuit fitting: solver, starting points, statistics, estimators."""
