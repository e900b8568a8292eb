"""Live tests start real processes and sockets; every test in this folder is marked ``live``
(``tests/conftest.py`` does that)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from support.serving import Serve


@pytest.fixture
def serve() -> Iterator[type[Serve]]:
    """Start servers with ``serve(config)``; every one is stopped when the test ends, pass or fail."""
    started: list[Serve] = []

    class Tracked(Serve):
        def __init__(self, config: Path, *extra: str):
            super().__init__(config, *extra)
            started.append(self)

    try:
        yield Tracked
    finally:
        for server in started:
            if server.process.poll() is None:
                server.process.kill()
                server.process.wait()
