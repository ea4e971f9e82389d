"""The test layout's promises (README, docs/architecture.md): what several test packages share lives
in ``tests/helpers/``; no test imports another package's conftest or another test module; page
tests read HTML through ``tests/html.py`` (lxml), not regular expressions over markup."""

from __future__ import annotations

import ast
from pathlib import Path

TESTS = Path(__file__).resolve().parents[1]


def _imports(path: Path) -> list[tuple[int, str]]:
    """(line, module) of every ``tests.*`` import in one file, however deep in the file."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.lineno, node.module))
        elif isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
    return [(line, module) for line, module in found if module.split(".")[0] == "tests"]


def _package(path: Path) -> str:
    return ".".join(path.relative_to(TESTS.parent).parent.parts)


def test_no_test_imports_another_packages_conftest_or_a_test_module():
    wrong = []
    for path in sorted(TESTS.rglob("*.py")):
        for line, module in _imports(path):
            *package, name = module.split(".")
            if name.startswith("test_"):
                wrong.append(f"{path.relative_to(TESTS.parent)}:{line} imports the test module {module}")
            elif name == "conftest" and ".".join(package) != _package(path):
                wrong.append(f"{path.relative_to(TESTS.parent)}:{line} imports another package's {module}")
    assert wrong == [], "import shared helpers and fixtures from tests/helpers/ instead:\n" + "\n".join(wrong)


def test_page_tests_match_no_markup_with_regular_expressions():
    """A ``re`` call whose pattern holds a tag or an attribute (``<div``, ``id="``) is markup
    matching: such a check belongs on the parsed page (tests/html.py)."""
    markup = ("<", '="', "='")
    allowed = {"tests/api/test_request_rules.py"}  # scans template *sources* (Jinja), not pages
    wrong = []
    for path in sorted(TESTS.rglob("*.py")):
        name = str(path.relative_to(TESTS.parent))
        if name in allowed or path == Path(__file__).resolve():
            continue
        for node in ast.walk(ast.parse(path.read_text(), name)):
            if not (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and isinstance(node.func.value, ast.Name)
                and node.func.value.id == "re"
                and node.args
            ):
                continue
            pattern = node.args[0]
            text = (
                pattern.value if isinstance(pattern, ast.Constant) and isinstance(pattern.value, str) else ""
            )
            if isinstance(pattern, ast.JoinedStr):
                text = "".join(v.value for v in pattern.values if isinstance(v, ast.Constant))
            if any(m in text for m in markup):
                wrong.append(f"{name}:{node.lineno}: re.{node.func.attr}({text!r})")
    assert wrong == [], "parse the page (tests/html.py) instead:\n" + "\n".join(wrong)
