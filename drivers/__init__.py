"""Drivers: the emulated array and its driver (sim), and real drivers for live storage processes."""
