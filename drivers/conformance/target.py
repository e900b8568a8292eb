"""What a run is pointed at: the driver class, the ``cinder.conf`` and the backend under test.

Everything a user can get wrong here is a ``BadInput`` whose message says which input and where,
so the command line can exit 2 before any driver code runs.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, replace

from replisim.actors.config import BackendConfig, CinderConfig, load_config
from replisim.drivers.contract import load_driver
from replisim.exception import ConfigError


class BadInput(ValueError):
    """The driver path, the config file or the backend name is wrong (exit code 2)."""


@dataclass(frozen=True)
class Target:
    """The driver under test on one backend, and the managed replication targets it names."""

    driver_path: str
    driver_class: type
    config: CinderConfig
    backend: BackendConfig
    peers: tuple[tuple[BackendConfig, type], ...] = ()

    @property
    def name(self) -> str:
        return f"{self.driver_path} on [{self.backend.name}]"

    def deploy_config(self) -> CinderConfig:
        """The config with only the backend under test and its targets, for ``deploy``."""
        names = (self.backend.name, *(peer.name for peer, _ in self.peers))
        return replace(
            self.config, enabled_backends=names, backends={name: self.config.backends[name] for name in names}
        )

    def secrets(self) -> tuple[str, ...]:
        """Every credential in the file: none of them may show in a driver's answers."""
        return self.config.secrets()


def import_from_cwd() -> None:
    """Let ``--driver`` name a module in the current directory, as ``python -m`` would, so a
    vendor can point at a driver that is not installed (the command line and plugin call this)."""
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())


def load_target(driver: str, config_path: str, backend: str | None = None) -> Target:
    """Resolve the inputs; ``backend`` defaults to the first enabled backend."""
    try:
        driver_class = load_driver(driver)
    except ValueError as exc:
        raise BadInput(f"--driver {driver!r}: {exc}") from None
    try:
        config = load_config(config_path, check_drivers=False)
    except ConfigError as exc:
        raise BadInput(str(exc)) from None
    name = backend if backend is not None else config.enabled_backends[0]
    if name not in config.backends:
        raise BadInput(
            f"--backend {name!r}: {config.source} enables no such backend; enabled backends: "
            f"{', '.join(config.enabled_backends)}"
        )
    chosen = config.backends[name]
    peers = []
    for peer_name in chosen.replication_targets:
        peer = config.backends[peer_name]
        try:
            peers.append((peer, load_driver(peer.volume_driver)))
        except ValueError as exc:
            raise BadInput(
                f"{config.source}: [{peer_name}] volume_driver: cannot load the driver of "
                f"[{name}]'s replication target {peer_name!r}: {exc}"
            ) from None
    return Target(driver, driver_class, config, chosen, tuple(peers))
