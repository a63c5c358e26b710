"""Spec snapshots for the plan tests (a uniquely named module: `conftest` is ambiguous when
several test folders are on sys.path)."""

import os

FIXTURES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures")


def fixture_text(name: str) -> str:
    with open(os.path.join(FIXTURES, name), encoding="utf-8") as fh:
        return fh.read()
