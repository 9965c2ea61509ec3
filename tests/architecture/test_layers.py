"""The dependency layers (import-linter, configured in pyproject.toml): the tree
keeps every contract, and a deliberate back-edge in a copy of the packages breaks
the contract it should.  ``make check`` runs the same ``lint-imports``."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")
CONFIG = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
CONTRACTS = {contract["name"]: contract for contract in CONFIG["contracts"]}


def contract(kind: str, forbidden: str | None = None) -> str:
    """The name of the configured contract of this type (forbidding this module)."""
    (name,) = (name for name, c in CONTRACTS.items()
               if c["type"] == kind and (forbidden is None or forbidden in c.get("forbidden_modules", ())))
    return name


def lint_imports(where: Path) -> tuple[int, str]:
    """Run lint-imports on the packages under ``where`` (its pyproject.toml); the exit
    code and the output with the console's line wrapping undone."""
    env = {**os.environ, "PYTHONPATH": str(where), "COLUMNS": "1000"}
    run = subprocess.run([str(LINT_IMPORTS), "--no-cache"], cwd=where, env=env, capture_output=True, text=True,
                         timeout=120)
    return run.returncode, " ".join((run.stdout + run.stderr).split())


@pytest.fixture
def copy(tmp_path: Path) -> Path:
    """The source packages and pyproject.toml, copied to a directory of their own."""
    for package in CONFIG["root_packages"]:
        shutil.copytree(ROOT / package, tmp_path / package, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy2(ROOT / "streams.py", tmp_path / "streams.py")
    shutil.copy2(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    return tmp_path


def test_the_tree_keeps_every_contract():
    code, output = lint_imports(ROOT)
    assert code == 0, output
    assert f"Contracts: {len(CONTRACTS)} kept, 0 broken." in output


def test_a_copy_of_the_packages_is_analysed_as_the_tree_is(copy):
    """The copy is what the back-edges below are added to: it must pass as it is."""
    code, output = lint_imports(copy)
    assert code == 0, output


@pytest.mark.parametrize(("module", "imported", "broken"), [
    ("engine/apply.py", "tables.members", contract("layers")),
    ("models/events.py", "agents.records", contract("layers")),
    ("tables/members.py", "streams", contract("forbidden", "streams")),
    ("engine/wallet.py", "faust", contract("forbidden", "faust")),
], ids=["engine-imports-tables", "models-imports-agents", "tables-imports-streams", "engine-imports-faust"])
def test_a_back_edge_breaks_its_contract(copy, module, imported, broken):
    path = copy / module
    path.write_text(path.read_text() + f"\nimport {imported}  # a deliberate back-edge\n")
    code, output = lint_imports(copy)
    assert code != 0, output
    assert f"{' '.join(broken.split())} BROKEN" in output, output
    importer = module.removesuffix(".py").replace("/", ".")
    assert f"{importer} -> {imported}" in output, output  # the report names the edge
