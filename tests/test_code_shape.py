"""The shape the code keeps in compiler/, targets/ and runtime/: modules under 400 lines,
functions under 60, and no module reaching into another module's private (`_name`) names."""

from __future__ import annotations

import ast
import importlib.util
import os
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# import name -> source folder (pyproject's package-dir)
PACKAGES = {"mlopsc.targets": "targets", "mlopsc.runtime": "runtime", "mlopsc": "compiler"}
MAX_MODULE_LINES = 400
MAX_FUNCTION_LINES = 60


def sources() -> list[Path]:
    return sorted(p for folder in set(PACKAGES.values()) for p in (ROOT / folder).rglob("*.py"))


def module_name(path: Path) -> str:
    rel = path.relative_to(ROOT)
    package = next(name for name, folder in PACKAGES.items() if rel.parts[0] == folder)
    parts = [p for p in rel.with_suffix("").parts[1:] if p != "__init__"]
    return ".".join([package, *parts])


def shown(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


@cache
def tree(path: Path) -> ast.Module:
    return ast.parse(path.read_text(encoding="utf-8"), filename=str(path))


# ---------------------------------------------------------------- sizes


def long_modules() -> list[str]:
    found = []
    for path in sources():
        n = len(path.read_text(encoding="utf-8").splitlines())
        if n > MAX_MODULE_LINES:
            found.append(f"{shown(path)}: {n} lines")
    return found


def long_functions() -> list[str]:
    found = []
    for path in sources():
        for node in ast.walk(tree(path)):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                n = node.end_lineno - node.lineno + 1
                if n > MAX_FUNCTION_LINES:
                    found.append(f"{shown(path)}:{node.lineno}: {node.name}() {n} lines")
    return found


def test_no_module_is_over_400_lines():
    found = long_modules()
    assert not found, "split these modules:\n" + "\n".join(found)


def test_no_function_is_over_60_lines():
    found = long_functions()
    assert not found, "split these functions:\n" + "\n".join(found)


# ---------------------------------------------------------------- private names


def private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


@cache
def is_module(dotted: str) -> bool:
    """Whether `dotted` names a module or package, found on disk without importing it."""
    for package, folder in sorted(PACKAGES.items(), key=lambda kv: -len(kv[0])):
        if dotted == package or dotted.startswith(package + "."):
            base = ROOT / folder / dotted[len(package):].lstrip(".").replace(".", os.sep)
            return base.with_suffix(".py").is_file() or (base / "__init__.py").is_file()
    head, _, rest = dotted.partition(".")
    try:
        spec = importlib.util.find_spec(head)
    except (ImportError, ValueError):
        return False
    if spec is None:
        return False
    if not rest:
        return True
    for location in spec.submodule_search_locations or ():
        base = Path(location, *rest.split("."))
        if base.with_suffix(".py").is_file() or (base / "__init__.py").is_file() or any(base.parent.glob(
                base.name + ".*.so")):
            return True
    return False


def absolute(module: str, node: ast.ImportFrom, path: Path) -> str:
    """The absolute module an ImportFrom imports from (relative imports resolved)."""
    if not node.level:
        return node.module or ""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for _ in range(node.level - 1):
        package = package.rpartition(".")[0]
    return f"{package}.{node.module}" if node.module else package


def module_bindings(path: Path, parsed: ast.Module) -> tuple[dict[str, str], list[str]]:
    """Names bound to modules by imports (name -> module), and `from x import _y` violations."""
    module, bound, found = module_name(path), {}, []
    for node in ast.walk(parsed):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.asname:
                    bound[alias.asname] = alias.name
                else:
                    head = alias.name.partition(".")[0]
                    bound[head] = head
        elif isinstance(node, ast.ImportFrom):
            source = absolute(module, node, path)
            if source == "__future__":
                continue
            for alias in node.names:
                if private(alias.name):
                    found.append(f"{shown(path)}:{node.lineno}: from {source} import {alias.name}")
                elif is_module(f"{source}.{alias.name}"):
                    bound[alias.asname or alias.name] = f"{source}.{alias.name}"
    return bound, found


def dotted_module(node: ast.expr, bound: dict[str, str]) -> str | None:
    """The module an expression (`x`, `x.y`) names, when it names one."""
    if isinstance(node, ast.Name):
        return bound.get(node.id)
    if isinstance(node, ast.Attribute):
        parent = dotted_module(node.value, bound)
        if parent is not None and is_module(f"{parent}.{node.attr}"):
            return f"{parent}.{node.attr}"
    return None


def private_uses(path: Path, parsed: ast.Module | None = None) -> list[str]:
    parsed = parsed or tree(path)
    bound, found = module_bindings(path, parsed)
    own = module_name(path)
    for node in ast.walk(parsed):
        if isinstance(node, ast.Attribute) and private(node.attr):
            target = dotted_module(node.value, bound)
            if target is not None and target != own:
                found.append(f"{shown(path)}:{node.lineno}: {target}.{node.attr}")
    return found


# The standard library's underscored names that a module may use, each for a reason.
ALLOWED = {
    # documented: how a process ends without the interpreter's teardown (the Python docs' os._exit):
    # a forked child, and the CLI's fast path once its output is flushed
    "os._exit": {"runtime/step_fork.py", "compiler/start.py"},
    # what Py_Finalize calls before tearing down modules; a forked step ends as the interpreter
    # ends a program without tearing down the zygote's modules, and has no public equivalent
    # (ThreadPoolExecutor's workers are stopped through threading's own exit hooks)
    "threading._shutdown": {"runtime/step_fork.py"},
    "atexit._run_exitfuncs": {"runtime/step_fork.py"},
}


def allowed(violation: str) -> bool:
    where, _, what = violation.partition(": ")
    return where.split(":")[0] in ALLOWED.get(what, ())


def test_no_module_uses_another_modules_private_names():
    found = [v for path in sources() for v in private_uses(path) if not allowed(v)]
    assert not found, "private names used from another module:\n" + "\n".join(found)


# ---------------------------------------------------------------- the checks themselves


@pytest.mark.parametrize("code, expected", [
    ("from mlopsc.runtime.steps import _tracker", ["from mlopsc.runtime.steps import _tracker"]),
    ("from .steps import _tracker", ["from mlopsc.runtime.steps import _tracker"]),
    ("from mlopsc.runtime import steps\nsteps._tracker(1)", ["mlopsc.runtime.steps._tracker"]),
    ("import mlopsc.runtime.steps as s\ns._tracker", ["mlopsc.runtime.steps._tracker"]),
    ("import mlopsc.runtime.steps\nmlopsc.runtime.steps._tracker", ["mlopsc.runtime.steps._tracker"]),
    ("from __future__ import annotations\nfrom mlopsc.runtime.steps import __doc__", []),
    ("from mlopsc.runtime.steps import StepContext\nStepContext._private", []),  # a class, not a module
    ("import json\nself._cache = json.dumps(self._x)", []),
])
def test_the_private_name_check_finds_what_it_should(code, expected):
    path = ROOT / "runtime" / "shape_probe.py"  # as if this code were a runtime module
    assert [v.split(": ", 1)[1] for v in private_uses(path, ast.parse(code))] == expected
