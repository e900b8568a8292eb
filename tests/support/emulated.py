"""A world of emulated arrays under the real control plane: alpha and beta replicate to each other
(async with 30 s of link latency, and sync), and dr replicates to an unmanaged device."""

from __future__ import annotations

from .cluster import Cluster

EMULATED = "replisim.drivers.emulated.EmulatedDriver"

CONF = f"""
[DEFAULT]
enabled_backends = alpha, beta, dr

[alpha]
volume_driver = {EMULATED}
volume_backend_name = alpha
replication_devices = beta
total_capacity_gb = 1000
replication_latency = 30
service_time_failover = 5

[beta]
volume_driver = {EMULATED}
volume_backend_name = beta
replication_devices = alpha
total_capacity_gb = 800
replication_mode = sync

[dr]
volume_driver = {EMULATED}
volume_backend_name = dr
managed_replication_target = false
replication_devices = {{'backend_id'='vault', 'san_ip'='10.0.0.9', 'san_login'='ops',
    'san_password'='hunter2'}}
"""


def replicated(cluster: Cluster, backend: str, size: int = 10) -> str:
    if not any(t["name"] == backend for t in cluster.admin("list_volume_types")):
        cluster.admin(
            "create_volume_type",
            name=backend,
            extra_specs={"replication": "enabled", "volume_backend_name": backend},
        )
    volume = cluster.available_volume(cluster.alice, backend, size=size)
    cluster.admin("enable_replication", volume_id=volume["id"])
    cluster.wait_status(volume["id"], "replication_status", "enabled")
    return str(volume["id"])
