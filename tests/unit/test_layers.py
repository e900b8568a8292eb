"""Layers only point down: no module imports a package of a higher rank than its own.

The order is the one docs/design.md opens with. Every ``import`` and ``from ... import`` in the
package counts, including those inside functions and under ``TYPE_CHECKING``: a late import is
still a dependency.
"""

from __future__ import annotations

import ast
from pathlib import Path

from support import ROOT

# Longest prefix wins; the rank of a module is the rank of its layer.
RANKS = {
    "replisim": 0,  # the package root holds only the version
    "replisim.sim": 0,
    "replisim.exception": 0,
    "replisim.redaction": 0,
    "replisim.webserver": 0,
    "replisim.drivers": 1,  # its __init__ is empty: importing the contract imports nothing else
    "replisim.drivers.contract": 1,
    "replisim.drivers.devices": 1,
    "replisim.actors": 2,
    "replisim.drivers.emulated": 3,
    "replisim.drivers.cinder_adapter": 3,
    "replisim.drivers.storage": 3,
    "replisim.drivers.conformance": 4,
    "replisim.scenarios": 4,
    "replisim.reports": 5,
    "replisim.console": 6,
    "replisim.cli": 6,
    "replisim.__main__": 6,
}
SKIP = ("tests", "build")


def rank(module: str) -> int:
    parts = module.split(".")
    for end in range(len(parts), 0, -1):
        found = RANKS.get(".".join(parts[:end]))
        if found is not None:
            return found
    raise AssertionError(f"{module} is in no layer: add it to RANKS (and to the map in docs/design.md)")


def modules() -> dict[str, Path]:
    """Every module of the package by its dotted name (the repository root is ``replisim``)."""
    found = {}
    paths = [*ROOT.glob("*.py")]
    for top in sorted(ROOT.iterdir()):
        if top.is_dir() and top.name not in SKIP and (top / "__init__.py").exists():
            paths += top.rglob("*.py")
    for path in sorted(paths):
        relative = path.relative_to(ROOT)
        parts = ["replisim", *relative.with_suffix("").parts]
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


def imports(module: str, path: Path, known: dict[str, Path]) -> list[tuple[int, str]]:
    """(line, imported module) for every replisim import in the file."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, *([base] if base else [])])
            for alias in node.names:  # ``from replisim import scenarios`` imports a package
                name = f"{base}.{alias.name}"
                found.append((node.lineno, name if name in known else base))
    return [(line, name) for line, name in found if name == "replisim" or name.startswith("replisim.")]


def test_every_module_is_in_a_layer() -> None:
    for module in modules():
        rank(module)


def test_no_module_imports_a_higher_layer() -> None:
    known = modules()
    upward = [
        f"{path.relative_to(ROOT)}:{line}: {module} (rank {rank(module)}) imports {target} "
        f"(rank {rank(target)})"
        for module, path in known.items()
        for line, target in imports(module, path, known)
        if rank(target) > rank(module)
    ]
    assert not upward, "imports against the layer order:\n" + "\n".join(upward)


def test_drivers_need_neither_the_control_plane_nor_each_other() -> None:
    known = modules()
    for module, path in known.items():
        if rank(module) != 3:
            continue
        world = ".".join(module.split(".")[:3])  # replisim.drivers.emulated or .storage
        for line, target in imports(module, path, known):
            assert not target.startswith("replisim.actors"), f"{path}:{line}: {module} imports {target}"
            if rank(target) == 3:
                assert target.startswith(world), f"{path}:{line}: {module} imports {target}"


def test_the_contract_imports_nothing_but_the_vocabulary() -> None:
    known = modules()
    for module in ("replisim.drivers", "replisim.drivers.contract", "replisim.drivers.devices"):
        targets = {target for _, target in imports(module, known[module], known)}
        assert {rank(t) for t in targets} <= {0}, (module, targets)
