"""Load an example spec from specs/ as the repository root sees it (relative spec paths)."""

import os

from mlopsc import api

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def load_example(spec: str):
    cwd = os.getcwd()
    os.chdir(ROOT)
    try:
        return api.load_project(f"specs/{spec}.yaml")
    finally:
        os.chdir(cwd)
