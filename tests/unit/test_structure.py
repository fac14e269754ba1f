"""The shape the README's tree promises, checked on the source: `shared/` is a kit that imports
no service and no operator code, and its modules import one another without a circle — type-only
imports (under ``TYPE_CHECKING``) included, since a person reading the code follows those too."""

from __future__ import annotations

import ast
from graphlib import CycleError, TopologicalSorter

from infra.paths import ROOT

SERVICE_FILES = ("app.py", "handler.py", "tables.py", "queries.py", "dashboard.py")


def imports_of(module: str) -> set[str]:
    """Every module ``module``'s source imports, at any depth of its tree."""
    path = ROOT / (module.replace(".", "/") + ".py")
    if not path.exists():
        path = ROOT / module.replace(".", "/") / "__init__.py"
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found |= {f"{node.module}.{a.name}" for a in node.names}
    return found


def kit_modules() -> list[str]:
    files = sorted((ROOT / "shared").rglob("*.py"))
    names = [".".join(f.relative_to(ROOT).with_suffix("").parts) for f in files]
    return [n.removesuffix(".__init__") for n in names]


def test_the_kit_imports_no_service_and_no_operator_code() -> None:
    outside = {
        m: sorted(i for i in imports_of(m) if i.split(".")[0] in ("services", "infra", "tests"))
        for m in kit_modules()
    }
    assert {m: found for m, found in outside.items() if found} == {}


def test_the_kit_has_no_import_circle() -> None:
    modules = set(kit_modules())
    graph = {m: {i for i in imports_of(m) if i in modules and i != m} for m in modules}
    try:
        order = list(TopologicalSorter(graph).static_order())
    except CycleError as exc:
        raise AssertionError(f"an import circle in shared/: {exc.args[1]}") from None
    assert set(order) == modules


def test_every_service_has_the_same_files() -> None:
    for name in ("analytics", "billing", "audit"):
        folder = ROOT / "services" / name
        missing = [f for f in SERVICE_FILES if not (folder / f).is_file()]
        assert missing == [], f"services/{name} lacks {missing}"
        assert (folder / "migrations").is_dir() and (folder / "web" / "panel.html").is_file()
