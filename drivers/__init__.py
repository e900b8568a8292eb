"""Drivers: the contract (``contract``), the emulated arrays and their driver (``emulated``), real
storage arrays and their driver (``storage``), and the conformance suite (``conformance``).

Deliberately empty: importing the contract imports nothing else.
"""
