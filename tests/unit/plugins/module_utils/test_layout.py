"""The house of plugins/module_utils as docs/architecture.md describes it.

Every file lives in a folder of its concern and is named in that folder's row of the map;
folders import each other one way only; each name is imported from the module that defines
it; each file says first what it is for; a file that calls itself pure imports no I/O library.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[4]
UTILS = REPO / "plugins" / "module_utils"
PACKAGE = "ansible_collections.hybrid.identity.plugins.module_utils."
# Which folders each folder may import (docs/architecture.md, "The folders of plugins/module_utils").
ALLOWED = {
    "common": set(),
    "ad": {"common"},
    "graph": {"common"},
    "matching": {"common", "ad", "graph"},
    "alignment": {"common", "ad", "graph", "matching"},
    "sync": {"common", "graph", "matching"},
    "report": {"common", "matching"},
    "preflight": {"common", "ad", "graph", "sync"},
}
IO_LIBRARIES = ("ldap3", "msal", "requests", "ansible", "socket", "ssl", "subprocess", "jinja2", "urllib.request",
                "http.client", "os")
BOILERPLATE = "Internal to the hybrid.identity collection"


def files() -> list[Path]:
    return sorted(path for path in UTILS.rglob("_*.py") if path.name != "__init__.py")


def folder_of(path: Path) -> str:
    return path.relative_to(UTILS).parts[0]


def our_imports(tree: ast.AST) -> list[ast.ImportFrom]:
    return [node for node in ast.walk(tree)
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith(PACKAGE)]


def top_level_names(path: Path) -> tuple[set[str], set[str]]:
    """(names the module defines, names it only imports) at its top level, try/except blocks included."""
    defined, imported = set(), set()
    body = list(ast.parse(path.read_text(encoding="utf-8")).body)
    while body:
        node = body.pop(0)
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            defined.add(node.name)
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            defined.update(name.id for target in targets for name in ast.walk(target) if isinstance(name, ast.Name))
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            imported.update((alias.asname or alias.name).split(".")[0] for alias in node.names)
        elif isinstance(node, (ast.Try, ast.If)):
            body += node.body + getattr(node, "orelse", []) + [
                statement for handler in getattr(node, "handlers", []) for statement in handler.body]
            if isinstance(node, ast.Try):
                body += node.finalbody
    return defined, imported - defined


def test_every_file_is_in_a_folder_of_the_map():
    assert not [path.name for path in UTILS.glob("*.py")], "module_utils keeps no file outside a concern's folder"
    assert {folder_of(path) for path in files()} == set(ALLOWED)
    for folder in ALLOWED:
        assert (UTILS / folder / "__init__.py").is_file(), folder


def test_the_architecture_page_names_every_file_in_its_folders_row():
    page = (REPO / "docs" / "architecture.md").read_text(encoding="utf-8")
    rows = {match.group(1): match.group(2) for match in re.finditer(r"^\| `(\w+)/` \|(.*)$", page, re.MULTILINE)}
    assert set(rows) == set(ALLOWED)
    for path in files():
        assert f"`{path.stem}`" in rows[folder_of(path)], f"{path.relative_to(UTILS)} is not in its folder's row"


@pytest.mark.parametrize("path", files(), ids=lambda path: str(path.relative_to(UTILS)))
def test_folders_import_one_way(path):
    folder = folder_of(path)
    for node in our_imports(ast.parse(path.read_text(encoding="utf-8"))):
        target = node.module[len(PACKAGE):].split(".")[0]
        assert target == folder or target in ALLOWED[folder], f"{folder}/ may not import {target}/ ({path.name})"


@pytest.mark.parametrize("path", files(), ids=lambda path: str(path.relative_to(UTILS)))
def test_the_first_docstring_line_says_what_the_file_is_for(path):
    docstring = ast.get_docstring(ast.parse(path.read_text(encoding="utf-8")))
    assert docstring, path.name
    first = docstring.splitlines()[0]
    assert not first.startswith(BOILERPLATE) and len(first) > 20, first


def declared_pure() -> list[Path]:
    return [path for path in files()
            if "Pure" in (ast.get_docstring(ast.parse(path.read_text(encoding="utf-8"))) or "")]


def is_io(module: str) -> bool:
    return any(module == library or module.startswith(f"{library}.") for library in IO_LIBRARIES)


@pytest.mark.parametrize("path", declared_pure(), ids=lambda path: str(path.relative_to(UTILS)))
def test_a_file_that_says_it_is_pure_imports_no_io_library(path):
    tree = ast.parse(path.read_text(encoding="utf-8"))
    modules = {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
    modules |= {node.module for node in ast.walk(tree)
                if isinstance(node, ast.ImportFrom) and node.module and not node.module.startswith(PACKAGE)}
    assert not [module for module in modules if is_io(module)], f"{path.name} says it is pure: {sorted(modules)}"
    calls = {node.func.id for node in ast.walk(tree) if isinstance(node, ast.Call) and isinstance(node.func, ast.Name)}
    assert "open" not in calls, f"{path.name} says it is pure but opens files"


def test_names_are_imported_from_the_module_that_defines_them():
    sources = [*REPO.glob("plugins/**/*.py"), *REPO.glob("tests/**/*.py")]
    passed_through = []
    for source in sources:
        for node in our_imports(ast.parse(source.read_text(encoding="utf-8"))):
            module = UTILS.joinpath(*node.module[len(PACKAGE):].split(".")).with_suffix(".py")
            defined, imported = top_level_names(module)
            passed_through += [f"{source.relative_to(REPO)}: {alias.name} through {node.module[len(PACKAGE):]}"
                               for alias in node.names if alias.name not in defined and alias.name in imported]
    assert not passed_through
