"""Real storage arrays for live mode, and the Cinder driver that manages volumes on them.

``server`` is the array process (``replisim array serve``): ``volumes`` on disk, ``replication``
to peer arrays over HTTP; ``client`` speaks its JSON API, ``process`` supervises one as a child
process (kill, pause, restart, link faults), and ``driver`` is the ``StorageDriver`` that
cinder.conf names as ``replisim.drivers.storage.StorageDriver``.
"""

from .driver import StorageDriver

__all__ = ["StorageDriver"]
