"""Vertex pipelines for both example specs, built as the target builds them (support-assistant's
compile stops at E701 for the LLM gateway; its pipelines are fully expressible)."""

import os
import sys

import pytest
from mlopsc import api, targets

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SPECS = ["churn", "support-assistant"]
PIPELINES = ["train", "deploy", "monitor", "endpoints"]
CASES = [(s, p) for s in SPECS for p in PIPELINES]
sys.path.insert(0, os.path.dirname(__file__))


def load(spec):
    cwd = os.getcwd()
    os.chdir(ROOT)
    try:
        return api.load_project(f"specs/{spec}.yaml")
    finally:
        os.chdir(cwd)


@pytest.fixture(scope="session")
def projects():
    return {s: load(s) for s in SPECS}


@pytest.fixture(scope="session")
def vertex():
    return targets.get("vertex")


@pytest.fixture(scope="session")
def compiled(projects, vertex):
    return {(s, p.name): (p, c) for s in SPECS for p, c in vertex.compiled(projects[s])}


@pytest.fixture(scope="session")
def files(projects, vertex):
    """path -> text for every spec, files() called directly (no E701 stop)."""
    return {s: {f.path: f.content for f in vertex.files(projects[s])} for s in SPECS}
