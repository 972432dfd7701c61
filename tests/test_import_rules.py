"""The import rules of docs/architecture.md, read from the code's own import statements.

- `batch_video/` (the domain library) never imports dagster, the code location or the console.
- The code location (`dagster_project/` outside `console/`) never imports the console, the scripts or the tests.
- The console starts without loading Dagster (its GraphQL commands must stay quick on an operator's laptop).
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def imported_modules(path: Path) -> set[str]:
    """Every module a file imports, at any depth (function-level imports included)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def offending(files: list[Path], forbidden: tuple[str, ...]) -> dict[str, list[str]]:
    """File -> the forbidden modules it imports (a forbidden name covers its submodules)."""
    found = {}
    for path in files:
        bad = sorted(m for m in imported_modules(path) if any(m == f or m.startswith(f + ".") for f in forbidden))
        if bad:
            found[path.name] = bad
    return found


def python_files(folder: str) -> list[Path]:
    files = sorted((REPO / folder).rglob("*.py"))
    assert files, f"no Python files under {folder}/"
    return files


def test_the_domain_library_never_imports_dagster_nor_the_layers_above_it():
    forbidden = ("dagster", "dagster_webserver", "dagster_graphql", "dagster_postgres", "dagster_project", "scripts", "tests")
    assert offending(python_files("batch_video"), forbidden) == {}


def test_the_code_location_never_imports_the_console_scripts_or_tests():
    console = REPO / "dagster_project" / "console"
    code_location = [p for p in python_files("dagster_project") if console not in p.parents]
    assert len(code_location) > 5
    forbidden = ("dagster_project.console", "scripts", "tests")
    assert offending(code_location, forbidden) == {}


def test_the_rules_see_lazy_imports_and_submodules(tmp_path):
    # An import inside a function is still a dependency; `from a import b` may name the module a.b.
    sample = tmp_path / "sample.py"
    sample.write_text("def f():\n    from dagster_project import console\n    import dagster._core.events as ev\n    import dagstermill\n")
    assert offending([sample], ("dagster", "dagster_project.console")) == {
        "sample.py": ["dagster._core.events", "dagster_project.console"]
    }


@pytest.mark.parametrize("module", ["dagster_project.console.cli", "dagster_project.run_tags"])
def test_the_console_starts_without_loading_dagster(module):
    code = f"import sys, {module}; loaded = sorted(m for m in sys.modules if m == 'dagster' or m.startswith('dagster.')); print(len(loaded))"
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True).stdout
    assert out.strip() == "0", f"importing {module} loads dagster"


def test_dagster_internals_are_reached_from_one_module_only():
    # dagster_internals.py names the Dagster version it was checked against.
    allowed = {"dagster_internals.py"}
    files = [p for p in python_files("dagster_project") if p.name not in allowed]
    found = {}
    for path in files:
        private = sorted(m for m in imported_modules(path) if m.startswith("dagster._"))
        if private:
            found[path.name] = private
    assert found == {}
