"""Each diagnosis code is declared once, made by one rule, and every rule stands on one floor."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from nbgrad.diagnose import catalogue
from nbgrad.diagnose.catalogue import CATALOGUE, FAMILIES

PACKAGE = Path(__file__).resolve().parents[1] / "nbgrad"
RULES = PACKAGE / "diagnose" / "rules"


def imports(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
            found.update(f"{node.module}.{a.name}" for a in node.names)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
    return found


def test_codes_and_slugs_are_unique_and_every_code_has_a_family():
    codes = list(CATALOGUE)
    slugs = [c.slug for c in CATALOGUE.values()]
    assert len(set(slugs)) == len(slugs) == len(codes) >= 48
    for entry in CATALOGUE.values():
        assert re.fullmatch(r"NBG\d{3}", entry.code) and re.fullmatch(r"[a-z0-9-]+", entry.slug)
        assert entry.severities and set(entry.severities) <= {"error", "warning", "info"}
        assert catalogue.family(entry.code) in FAMILIES


def test_each_code_is_made_in_exactly_one_rule_module_and_no_code_is_undeclared():
    made: dict[str, list[str]] = {}
    mentioned: set[str] = set()
    for path in PACKAGE.rglob("*.py"):
        if path.name == "catalogue.py":
            continue
        text = path.read_text()
        mentioned.update(re.findall(r"NBG\d{3}", text))
        for code in re.findall(r"(?:make|Known|_diag)\(\s*(?:call,\s*)?\"(NBG\d{3})\"", text):
            made.setdefault(code, []).append(path.name)
    for code in CATALOGUE:
        assert len(set(made.get(code, []))) == 1, (code, made.get(code))
    assert set(made) == set(CATALOGUE)
    assert mentioned <= set(CATALOGUE), sorted(mentioned - set(CATALOGUE))


def test_a_severity_a_code_does_not_declare_is_refused():
    import pytest

    with pytest.raises(ValueError, match="NBG301 is not declared with severity 'info'"):
        catalogue.make("NBG301", severity="info", title="", evidence=[], why="", fix="")


def test_no_rule_imports_another_rule():
    for path in RULES.glob("*.py"):
        if path.name == "__init__.py":
            continue
        rules = {m for m in imports(path) if m.startswith("nbgrad.diagnose.rules")}
        assert rules == set(), (path.name, rules)
        assert not {m for m in imports(path) if m.startswith(("nbgrad.render", "nbgrad.capture",
                                                               "torch", "IPython"))}, path.name


def module_imports(path: Path) -> set[str]:
    """Modules imported at the top level of a file (not inside functions: those are lazy)."""
    tree = ast.parse(path.read_text())
    found = set()
    for node in tree.body:
        if isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.If):  # TYPE_CHECKING blocks name types only
            continue
    return found


def test_decisions_flow_one_way():
    """diagnose and the report decide and never import render; render imports what was decided
    (the outcome, diagnoses, fixes), never the rules or the facts they decide with."""
    for path in [*(PACKAGE / "diagnose").rglob("*.py"), PACKAGE / "report.py"]:
        assert not {m for m in module_imports(path) if m.startswith("nbgrad.render")}, path
    for path in (PACKAGE / "render").glob("*.py"):
        deciding = {m for m in imports(path)
                    if m.startswith(("nbgrad.diagnose.rules", "nbgrad.diagnose.facts"))}
        assert deciding == set(), (path.name, deciding)
