"""Every import of a project module names a module that exists, including imports inside
functions, which run only when called. import-linter cannot see these: it skips modules it
cannot find, so a stale path (a module that moved to another app) would pass its contracts."""

from __future__ import annotations

import ast
import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = [
    "config",
    "accounts",
    "chargepoints",
    "sessions_app",
    "tariffs",
    "billing",
    "payments",
    "ocpp_consumer",
    "drivers",
    "operator_api",
    "portal",
    "bluecurrent",
    "tests",
]


def _project_imports():
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            tree = ast.parse(path.read_text(), filename=str(path))
            for node in ast.walk(tree):
                if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    names = [node.module]
                elif isinstance(node, ast.Import):
                    names = [alias.name for alias in node.names]
                else:
                    continue
                for name in names:
                    if name.split(".")[0] in PACKAGES:
                        yield path.relative_to(ROOT), node.lineno, name


def _exists(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except ModuleNotFoundError:  # a parent package is missing
        return False


def test_every_project_import_names_an_existing_module():
    missing = [f"{path}:{line} imports {name}" for path, line, name in _project_imports() if not _exists(name)]
    assert not missing, "\n".join(missing)
