import os
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
FIXTURES = os.path.join(HERE, "fixtures")
sys.path.insert(0, HERE)


@pytest.fixture
def fake_targets(monkeypatch):
    """Only the test target is registered: plans compare its output, which these tests own."""
    from mlopsc import targets

    only = {"fake": "fake_target:FakeTarget"}
    monkeypatch.setattr(targets, "BUILTIN", only)
    monkeypatch.setattr(targets, "registered", lambda: only)
    return ["fake"]

