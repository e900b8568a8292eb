"""Real Cinder 29.0.0 in one process, as its functional tests start it, answering like a deployment.

Run by the Cinder virtual environment's python (``setup-cinder.sh`` makes it):

    .venv-cinder29/bin/python tests/differential/cinder_stack.py [--backends alpha,beta]

It starts the ``osapi_volume`` WSGI server, ``cinder-scheduler`` and one ``cinder-volume`` per
backend (``ReplicatingFakeDriver``) on an in-memory SQLite database and the fake message bus, on
127.0.0.1 and a free port, prints ``cinder-stack: listening on URL`` once ready, and runs until
SIGTERM or SIGINT, or until the process that started it is gone.

Where the test harness differs from a deployment, this changes it back:
- project ids in URLs are hex, as Cinder's production routing has them (the harness allows
  ``fake``/``openstack``);
- policy is Cinder's built-in default (the harness's policy file opens ``os-services`` to all);
- auth is noauth with roles (``cinder_parts.NoAuthWithRoles``): members are not admins;
- every volume service keeps its heartbeat, so it stays "up" (``Service.report_state`` refreshes
  only the last service started, its id being a class attribute);
- services are named as a deployment names them: ``HOST`` and ``HOST@backend``.
Quotas stay at Cinder's defaults (10 volumes, 1000 GiB per project), the numbers a client sees on
a fresh deployment; scenarios that need more use their own project.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import tempfile
from pathlib import Path
from typing import Any

import cinder.tests.functional
import eventlet
from cinder import context, objects, service
from cinder.tests.functional import functional_helpers
from oslo_config import cfg

HOST = "replisim"  # replisim serve's host name, so both sides name their services alike
HEARTBEAT = 5.0  # seconds; below Cinder's service_down_time (60 s)


class Stack(functional_helpers._FunctionalTestBase):
    """The functional-test base, set up once and kept running."""

    backends: tuple[str, ...] = ("alpha",)

    def __init__(self, workdir: Path):
        self.workdir = workdir
        super().__init__("run")
        policy = workdir / "policy.yaml"
        policy.write_text("# Cinder's built-in defaults\n")
        self.POLICY_PATH = str(policy)

    def run(self, result: Any = None) -> Any:  # the name testtools is given; never run as a test
        raise NotImplementedError

    def _get_flags(self) -> dict[str, dict[str, Any]]:
        flags = super()._get_flags()
        flags["project_id_regex"] = {"v": r"[0-9a-f\-]+"}  # Cinder's default outside its tests
        flags["enabled_backends"] = {"v": list(self.backends)}
        flags["volume_driver"] = {"v": "cinder_parts.ReplicatingFakeDriver", "g": "backend_defaults"}
        flags["host"] = {"v": HOST}
        # the unmanaged device replisim's lone backend replicates to (servers.DR_DEVICE), so that
        # both list the same group replication targets
        flags["replication_device"] = {"v": [{"backend_id": "alpha-dr"}], "g": "backend_defaults"}
        return flags

    def _paste_config(self) -> Path:
        """Cinder's api-paste.ini with the noauth filter swapped for ``NoAuthWithRoles``."""
        shipped = Path(cinder.__file__).resolve().parent.parent / "etc" / "cinder" / "api-paste.ini"
        text = shipped.read_text()
        ours = text.replace(
            "cinder.api.middleware.auth:NoAuthMiddleware.factory", "cinder_parts:NoAuthWithRoles.factory"
        )
        assert ours != text, f"no noauth filter in {shipped}"
        path = self.workdir / "api-paste.ini"
        path.write_text(ours)
        return path

    def _start_api_service(self) -> None:
        # typed oslo.config (installed with the cinder extra) has no such attribute; without it, no types
        cfg.CONF.api_paste_config = str(self._paste_config())  # type: ignore[attr-defined,unused-ignore]
        self.osapi = service.WSGIService("osapi_volume")
        self.osapi.start()
        self.auth_url = f"http://{self.osapi.host}:{self.osapi.port}/v3"

    def start_service(self, name: str, host: str | None = None, **kwargs: Any) -> Any:
        if name != "volume":
            return super().start_service(name, host=host or HOST, **kwargs)
        services = [
            super(Stack, self).start_service(name, host=f"{HOST}@{b}", service_name=b, **kwargs)
            for b in self.backends
        ]
        return services[0]


def heartbeat(stack: Stack) -> None:
    """What ``report_state`` does, for every service: count a report, which refreshes updated_at."""
    admin = context.get_admin_context()
    while True:
        eventlet.sleep(HEARTBEAT)
        for running in stack._services:
            row = objects.Service.get_by_id(admin, running.origin_service_id)
            row.report_count += 1
            row.save()


def orphaned(stop: Any) -> None:
    """Stop when the process that started this one is gone (a test run killed outright)."""
    parent = os.getppid()
    while os.getppid() == parent:
        eventlet.sleep(1.0)
    if not stop.ready():
        stop.send(True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backends", default="alpha", help="comma-separated backend names (default alpha)")
    args = parser.parse_args()
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    stop = eventlet.event.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.ready() or stop.send(True))
    with tempfile.TemporaryDirectory(prefix="cinder-stack-") as workdir:
        Stack.backends = tuple(b.strip() for b in args.backends.split(",") if b.strip())
        stack = Stack(Path(workdir))
        stack.setUp()
        # The harness keeps Cinder's log in memory; a server's belongs in its log file.
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        handler.setLevel(logging.INFO)
        logging.getLogger().addHandler(handler)
        try:
            eventlet.spawn(heartbeat, stack)
            eventlet.spawn(orphaned, stop)
            print(
                f"cinder-stack: listening on http://{stack.osapi.host}:{stack.osapi.port} "
                f"(backends {','.join(stack.backends)})",
                flush=True,
            )
            stop.wait()
        finally:
            stack.doCleanups()
    print("cinder-stack: stopped", flush=True)
    return 0


if __name__ == "__main__":
    os.environ.pop("http_proxy", None)
    sys.exit(main())
