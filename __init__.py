"""replisim: simulate and test the replication control plane of block storage (Cinder Replication V2)."""

__version__ = "0.1.0"
