"""Tenant and volume names that read like a real cloud's, the same for the same seed.

Faker draws from its own random instance seeded from the run's seed (``"<seed>:names"``), so names
never shift another subsystem's draws, and the same seed names everything alike (for a given Faker
release: its word lists are its data).
"""

from __future__ import annotations

from faker import Faker
from faker.utils.text import slugify


class Names:
    """Hands out tenant (project) names and volume names for one run."""

    def __init__(self, seed: int):
        self._fake = Faker("en_US")
        self._fake.seed_instance(f"{seed}:names")
        self._volumes = 0

    def tenants(self, count: int) -> tuple[str, ...]:
        """``count`` distinct slugs of company names, such as ``beard-plc``."""
        names: list[str] = []
        while len(names) < count:
            name = slugify(self._fake.company())
            names.append(name if name not in names else f"{name}-{len(names)}")
        return tuple(names)

    def volume(self) -> str:
        """The next volume's name, two words and a serial number (``short-watch-7``), never repeated."""
        self._volumes += 1
        words = slugify(f"{self._fake.word()} {self._fake.word()}")
        return f"{words}-{self._volumes}"
