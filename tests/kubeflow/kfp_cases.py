"""Constants shared by the Kubeflow tests (fixtures live in conftest.py). Import from here, not
from `conftest`: with several test folders on sys.path, `import conftest` may find another one."""

import os

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

SPECS = ["churn", "support-assistant"]


def compiled_cases():
    return [(s, p) for s in SPECS for p in ("train", "deploy", "monitor")]
