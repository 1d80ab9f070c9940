"""The fast lane's lists in tests/conftest.py name real modules, tests and zoo loops, so a renamed
test cannot leave the slow lane, or the fast lane, unnoticed; and `-m` is read as pytest reads it."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tests import conftest, zoo

TESTS = Path(__file__).parent


def _tests_of(module: str) -> set[str]:
    path = TESTS / f"{module}.py"
    assert path.exists(), f"tests/conftest.py names {module}, which is not a test module"
    tree = ast.parse(path.read_text())
    return {node.name for node in tree.body
            if isinstance(node, ast.FunctionDef) and node.name.startswith("test_")}


def test_every_listed_module_and_test_exists():
    for module in conftest.SLOW_MODULES:
        assert _tests_of(module), module
    for key in [*conftest.SLOW_TESTS, *conftest.ZOO_SWEEPS, *conftest.SHELL_FAST]:
        module, _, name = key.partition("::")
        tests = _tests_of(module)
        assert not name or name in tests, f"tests/conftest.py names {key}, which is not a test"
        assert module not in conftest.SLOW_MODULES, f"{key}: its whole module is slow already"


def test_the_fast_zoo_loops_are_zoo_loops():
    assert set(zoo.CORRECT) | set(zoo.BROKEN) >= conftest.ZOO_FAST
    assert conftest.ZOO_FAST & set(zoo.CORRECT) and conftest.ZOO_FAST & set(zoo.BROKEN)


@pytest.mark.parametrize(("markexpr", "leaves_out"), [
    ("not slow", True), ("not slow and not browser", True), ("not (slow or notebook)", True),
    ("", False), ("slow", False), ("browser", False), ("not browser", False),
    ("not slow or browser", False),  # a slow browser test is selected
    ("not slow or (browser and not notebook)", False),  # only with browser on and notebook off
])
def test_a_slow_module_is_left_uncollected_only_when_m_deselects_every_slow_test(markexpr, leaves_out):
    assert conftest._leaves_out_slow(markexpr) is leaves_out
