"""The README's storage-array configuration, as shipped in ``examples/``, served on real arrays."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import requests
from support import ROOT

EXAMPLE = ROOT / "examples" / "storage-arrays.conf"
TOKEN = {"X-Auth-Token": "admin:ops", "OpenStack-API-Version": "volume 3.0"}


def _api(url: str, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
    answer = requests.request(method, f"{url}/v3/ops/{path}", json=body, headers=TOKEN, timeout=30)
    assert answer.status_code < 300, (method, path, answer.status_code, answer.text)
    return answer.json() if answer.content else None


def _until(url: str, volume_id: str, field: str, wanted: str, timeout: float = 30.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        volume: dict[str, Any] = _api(url, "GET", f"volumes/{volume_id}")["volume"]
        if volume[field] == wanted or time.monotonic() > deadline:
            assert volume[field] == wanted, volume
            return volume
        time.sleep(0.1)


def test_the_shipped_storage_array_config_serves_fails_over_and_back(
    start_array: Any, serve: Any, tmp_path: Path
) -> None:
    """Its four arrays on free ports (the file names 8701-8704), everything else as shipped."""
    text = EXAMPLE.read_text(encoding="utf-8")
    for name, port in (("alpha", 8701), ("beta", 8702), ("dr", 8703), ("vault", 8704)):
        array = start_array(name, password="secret")
        text = text.replace(str(port), str(array.port))
    config = tmp_path / "cinder.conf"
    config.write_text(text, encoding="utf-8")
    url = serve(config).wait_url(timeout=60)
    _api(url, "POST", "types", {"volume_type": {"name": "gold"}})
    gold = _api(url, "GET", "types")["volume_types"]
    type_id = next(t["id"] for t in gold if t["name"] == "gold")
    specs = {"replication": "enabled", "volume_backend_name": "alpha"}
    _api(url, "POST", f"types/{type_id}/extra_specs", {"extra_specs": specs})
    volume = _api(url, "POST", "volumes", {"volume": {"size": 1, "volume_type": "gold"}})["volume"]
    _until(url, volume["id"], "status", "available")
    _api(url, "POST", f"volumes/{volume['id']}/action", {"os-enable_replication": None})
    _until(url, volume["id"], "replication_status", "enabled")
    _api(url, "POST", f"volumes/{volume['id']}/action", {"os-failover_replication": {"secondary": "beta"}})
    _until(url, volume["id"], "replication_status", "failed-over")
    _api(url, "POST", f"volumes/{volume['id']}/action", {"os-failover_replication": {"secondary": "alpha"}})
    _until(url, volume["id"], "replication_status", "enabled")  # beta's replication_devices: a failback
