"""Every registered target fills in the capability table and compiles both example specs' IR."""

import pytest
from click.testing import CliRunner
from mlopsc import targets
from mlopsc.cli import cli
from mlopsc.targets.base import PARTS


@pytest.mark.parametrize("name", targets.names())
def test_capabilities_cover_every_part(name):
    target = targets.get(name)
    assert target.name == name
    assert set(target.capabilities) == set(PARTS)
    assert all(target.capabilities.values())


def test_targets_command_prints_the_table():
    out = CliRunner().invoke(cli, ["targets"]).stdout
    for name in targets.names():
        assert name in out
    for part in PARTS:
        assert part in out
