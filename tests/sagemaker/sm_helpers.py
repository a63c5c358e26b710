"""Helpers for the SageMaker tests: compile an example spec, pick files and steps apart."""

import json
import os

from mlopsc import api, targets

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SPECS = ["churn.yaml", "support-assistant.yaml"]


def compile_spec(spec: str):
    """(project, {path: text}, diagnostics), with paths as seen from the repository root."""
    cwd = os.getcwd()
    os.chdir(ROOT)
    try:
        project = api.load_project(os.path.join("specs", spec))
        files, diagnostics = targets.get("sagemaker").compile(project)
    finally:
        os.chdir(cwd)
    return project, {f.path: f.content for f in files}, diagnostics


def definitions(files):
    return {p: json.loads(t) for p, t in files.items() if p.startswith("pipelines/")}


def templates(files):
    return {p: json.loads(t) for p, t in files.items() if p.startswith("cloudformation/")}


def all_steps(steps):
    """Every step, including those nested in Condition branches."""
    for step in steps:
        yield step
        if step["Type"] == "Condition":
            yield from all_steps(step["Arguments"]["IfSteps"] + step["Arguments"]["ElseSteps"])
