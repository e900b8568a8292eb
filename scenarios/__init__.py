"""Scenarios: what a run does, and the shipped ones."""
