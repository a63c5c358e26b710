"""Shape rules over runtime/'s source: what differs per target lives in runtime/platforms/ (no
target-name comparisons elsewhere), and no module reaches for another module's private names."""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
RUNTIME = ROOT / "runtime"
PLATFORMS = RUNTIME / "platforms"
TARGET_NAMES = {"local", "sagemaker", "kubeflow", "vertex"}


def _modules():
    files = sorted(RUNTIME.rglob("*.py"))
    assert len(files) > 20, files  # the scan sees the runtime
    for path in files:
        yield path.relative_to(ROOT).as_posix(), ast.parse(path.read_text(encoding="utf-8"), str(path))


def _constants(node):
    if isinstance(node, ast.Constant):
        return [node.value]
    if isinstance(node, (ast.Tuple, ast.List, ast.Set)):
        return [e.value for e in node.elts if isinstance(e, ast.Constant)]
    return []


def target_comparisons(tree):
    """`x == "sagemaker"`, `t != "local"`, `t in ("kubeflow", "vertex")`, `match t: case "vertex"`."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Compare):
            values = [v for part in (node.left, *node.comparators) for v in _constants(part)]
            if TARGET_NAMES & {v for v in values if isinstance(v, str)}:
                found.append((node.lineno, ast.unparse(node)))
        elif isinstance(node, ast.MatchValue) and _constants(node.value) and \
                set(_constants(node.value)) & TARGET_NAMES:
            found.append((node.lineno, ast.unparse(node.value)))
        elif isinstance(node, ast.FunctionDef) and node.name == "_target":
            found.append((node.lineno, "def _target"))
    return sorted(found)


def private_imports(tree):
    """`from mlopsc.x import _name`, and `module._name` on a module imported from mlopsc."""
    modules, found = set(), []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("mlopsc"):
            for alias in node.names:
                if alias.name.startswith("_") and not alias.name.startswith("__"):
                    found.append((node.lineno, f"from {node.module} import {alias.name}"))
                modules.add(alias.asname or alias.name)
        elif isinstance(node, ast.Import):
            modules.update(a.asname or a.name.split(".")[0] for a in node.names if a.name.startswith("mlopsc"))
    for node in ast.walk(tree):
        if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in modules
                and node.attr.startswith("_") and not node.attr.startswith("__")):
            found.append((node.lineno, ast.unparse(node)))
    return sorted(found)


def test_no_target_name_comparisons_outside_the_platforms():
    offenders = [f"{name}:{line}: {code}" for name, tree in _modules() if not name.startswith("runtime/platforms/")
                 for line, code in target_comparisons(tree)]
    assert offenders == []


def test_the_checks_see_what_they_forbid():
    tree = ast.parse('if _target() == "sagemaker": pass\nok = t not in ("kubeflow", "vertex")\n'
                     'match t:\n    case "local": pass\ndef _target(): pass\n')
    assert [line for line, _ in target_comparisons(tree)] == [1, 2, 4, 5]
    tree = ast.parse("from mlopsc.runtime.steps import _tracker, StepContext\nfrom mlopsc.runtime import runner\n"
                     "runner._spec_tracking_uri(p)\nfrom mlopsc import __version__\n")
    assert [code for _, code in private_imports(tree)] == ["from mlopsc.runtime.steps import _tracker",
                                                           "runner._spec_tracking_uri"]


def test_no_runtime_module_imports_another_modules_private_names():
    offenders = [f"{name}:{line}: {code}" for name, tree in _modules() for line, code in private_imports(tree)]
    assert offenders == []


def test_every_platform_module_defines_a_class_named_platform():
    from mlopsc.runtime import platforms

    for name, ref in platforms.REGISTRY.items():
        module = ref.partition(":")[0]
        tree = ast.parse((PLATFORMS / f"{module.rsplit('.', 1)[-1]}.py").read_text(encoding="utf-8"))
        assert "Platform" in {n.name for n in tree.body if isinstance(n, ast.ClassDef)}, name
