"""Every package folder is listed in pyproject (a non-editable install would miss it otherwise)."""

import os
import tomllib

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _config():
    with open(os.path.join(ROOT, "pyproject.toml"), "rb") as fh:
        return tomllib.load(fh)["tool"]["setuptools"]


def _package_folders(config):
    top = {folder: name for name, folder in config["package-dir"].items()}
    for folder, name in top.items():
        for root, dirs, files in os.walk(os.path.join(ROOT, folder)):
            dirs[:] = [d for d in dirs if d != "__pycache__" and os.path.join(root, d)[len(ROOT) + 1:] not in top]
            if "__init__.py" in files:
                rel = os.path.relpath(root, os.path.join(ROOT, folder))
                yield name if rel == "." else name + "." + rel.replace(os.sep, ".")


def test_every_package_folder_is_listed():
    config = _config()
    missing = sorted(set(_package_folders(config)) - set(config["packages"]))
    assert missing == []


def test_test_module_names_are_unique():
    # pytest's default import mode puts each test folder on sys.path: equal basenames collide.
    seen = {}
    for root, dirs, files in os.walk(os.path.join(ROOT, "tests")):
        dirs[:] = [d for d in dirs if d != "__pycache__"]
        for name in files:
            if name.startswith("test_") and name.endswith(".py"):
                assert name not in seen, f"{name} in {root} and {seen[name]}"
                seen[name] = root
