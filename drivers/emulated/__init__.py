"""The emulated storage of simulated runs: arrays in a fabric, and the driver that meets the contract
on them.

``writes`` counts each copy's writes exactly, ``link`` solves a replication link as a fluid queue,
``usage`` keeps thin usage incrementally, ``array`` is one pool and its copies, ``fabric`` holds
everything that spans two arrays (pairs, failover, split brain), and ``driver`` is the
``EmulatedDriver`` that cinder.conf names as ``replisim.drivers.emulated.EmulatedDriver``.
"""

from .driver import EmulatedDriver, emulated_drivers
from .fabric import Fabric

__all__ = ["EmulatedDriver", "Fabric", "emulated_drivers"]
