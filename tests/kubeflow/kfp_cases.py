"""Parameter lists shared by the Kubeflow tests (fixtures live in conftest.py)."""

SPECS = ["churn", "support-assistant"]


def compiled_cases():
    return [(s, p) for s in SPECS for p in ("train", "deploy", "monitor")]
