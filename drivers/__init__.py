"""Drivers and the arrays behind them: what the volume manager's driver host runs."""
