"""Equivalent circuits: grammar and parser, element table, compiled Z and Jacobian."""
