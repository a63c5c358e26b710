"""Constants shared by the Vertex tests (fixtures live in conftest.py). Import from here, not from
`conftest`: with several test folders on sys.path, `import conftest` may find another folder's."""

import os

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SPECS = ["churn", "support-assistant"]
PIPELINES = ["train", "deploy", "monitor"]
CASES = [(s, p) for s in SPECS for p in PIPELINES]
